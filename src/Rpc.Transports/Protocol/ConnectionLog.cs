using Microsoft.Extensions.Logging;

namespace Rpc.Transports.Protocol;

internal static partial class ConnectionLog
{
    [LoggerMessage(1, LogLevel.Warning, "Connection from {Peer} broke the protocol: {Reason}")]
    public static partial void ProtocolError(ILogger logger, string peer, string reason);

    [LoggerMessage(2, LogLevel.Debug, "Connection {Peer} closed: {Reason}")]
    public static partial void Closed(ILogger logger, string peer, string reason);

    [LoggerMessage(3, LogLevel.Debug, "Connection {Peer} received GOAWAY after stream {LastStreamId}: {Detail}")]
    public static partial void GoAwayReceived(ILogger logger, string peer, uint lastStreamId, string detail);

    [LoggerMessage(4, LogLevel.Error, "Connection {Peer} failed while reading")]
    public static partial void ReadLoopFailed(ILogger logger, string peer, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Connection {Peer} is closed: no answer to a keepalive ping within {TimeoutSeconds} s")]
    public static partial void KeepAliveTimedOut(ILogger logger, string peer, double timeoutSeconds);

    [LoggerMessage(6, LogLevel.Debug, "Connection {Peer} opened ({Side})")]
    public static partial void Opened(ILogger logger, string peer, string side);

    [LoggerMessage(7, LogLevel.Warning, "Connection {Peer} hit a limit: {Detail}")]
    public static partial void LimitHit(ILogger logger, string peer, string detail);
}
