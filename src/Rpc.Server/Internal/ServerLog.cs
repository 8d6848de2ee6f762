using Microsoft.Extensions.Logging;

namespace Rpc.Server.Internal;

internal static partial class ServerLog
{
    [LoggerMessage(200, LogLevel.Information, "Listening on {Address}")]
    public static partial void Listening(ILogger logger, string address);

    [LoggerMessage(201, LogLevel.Error, "Error when executing service method '{Method}'.")]
    public static partial void HandlerError(ILogger logger, string method, Exception exception);

    [LoggerMessage(202, LogLevel.Warning, "Connection from {Peer} failed its handshake: {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(203, LogLevel.Information, "Shutdown timed out; cancelling {Count} calls still running.")]
    public static partial void ShutdownCancellingCalls(ILogger logger, int count);

    [LoggerMessage(204, LogLevel.Error, "Accepting connections on {Address} failed.")]
    public static partial void AcceptFailed(ILogger logger, string address, Exception exception);
}
