namespace Rpc.Transports.Protocol;

/// <summary>The peer broke the wire protocol; the connection it came on must close.</summary>
public sealed class ProtocolException : IOException
{
    /// <summary>Creates the exception with a message that names the fault.</summary>
    public ProtocolException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message that names the fault and its cause.</summary>
    public ProtocolException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
