namespace Rpc.Transports;

/// <summary>The address is owned by another live listener.</summary>
public sealed class AddressInUseException : IOException
{
    /// <summary>Creates the exception.</summary>
    public AddressInUseException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

/// <summary>A connection could not be opened: nothing listens there, or it refused.</summary>
public sealed class ConnectionFailedException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ConnectionFailedException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}
