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

    [LoggerMessage(204, LogLevel.Error, "Accepting connections on {Address} failed; trying again in {BackoffMs} ms.")]
    public static partial void AcceptFailed(ILogger logger, string address, double backoffMs, Exception exception);

    [LoggerMessage(205, LogLevel.Warning, "Shutdown left {Count} handlers running that did not return after their calls were cancelled.")]
    public static partial void ShutdownLeavingHandlers(ILogger logger, int count);

    [LoggerMessage(206, LogLevel.Warning, "Shutdown aborted {Count} connections that did not close in time.")]
    public static partial void ShutdownAbortingConnections(ILogger logger, int count);

    [LoggerMessage(208, LogLevel.Error, "Connection from {Peer} failed.")]
    public static partial void ConnectionFailed(ILogger logger, string peer, Exception exception);

    [LoggerMessage(207, LogLevel.Error, "Closing the listener on {Address} failed.")]
    public static partial void ListenerCloseFailed(ILogger logger, string address, Exception exception);

    [LoggerMessage(209, LogLevel.Warning, "An HTTP/2 connection from {Peer} was refused: the embedded HTTP server is stopping, failed to start, or has too many connections waiting.")]
    public static partial void HttpConnectionRefused(ILogger logger, string peer);

    [LoggerMessage(210, LogLevel.Error, "The embedded HTTP server did not start.")]
    public static partial void HttpStartFailed(ILogger logger, Exception exception);
}
