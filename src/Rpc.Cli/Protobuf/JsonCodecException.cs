namespace Rpc.Cli.Protobuf;

/// <summary>A request's JSON does not fit its message; the text names the field (as a dotted path).</summary>
public sealed class JsonCodecException : Exception
{
    /// <summary>Creates the exception with a message that names the offending field.</summary>
    public JsonCodecException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the parser's own error.</summary>
    public JsonCodecException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception without detail.</summary>
    public JsonCodecException() { }
}
