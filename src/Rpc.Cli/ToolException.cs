namespace Rpc.Cli;

/// <summary>A failure the tool explains to its user and turns into an exit code; no stack trace.</summary>
internal sealed class ToolException(int exitCode, string message, bool listServices = false) : Exception(message)
{
    /// <summary>The process's exit code: a gRPC status code where one applies.</summary>
    public int ExitCode { get; } = exitCode;

    /// <summary>Whether the message is better with the server's services listed after it.</summary>
    public bool ListServices { get; } = listServices;
}
