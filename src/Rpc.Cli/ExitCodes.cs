namespace Rpc.Cli;

/// <summary>Exit codes: a call's gRPC status code, and the same codes for the tool's own failures.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int InvalidArgument = 3;
    public const int NotFound = 5;
    public const int Unimplemented = 12;
    public const int Internal = 13;
    public const int Unavailable = 14;

    /// <summary>rpc health: the service is known but not SERVING.</summary>
    public const int NotServing = 1;
}
