using Microsoft.Extensions.Logging;

namespace Rpc.Transports.Internal;

/// <summary>What listeners report through <see cref="ListenOptions.Logger"/>.</summary>
internal static partial class ListenerLog
{
    [LoggerMessage(100, LogLevel.Warning, "Listener {Address} refused a connection from {Peer}: {Reason}")]
    public static partial void Refused(ILogger logger, string address, string peer, string reason);

    [LoggerMessage(101, LogLevel.Warning, "Listener {Address} could not accept ({Reason}); accepting again in {DelayMilliseconds} ms")]
    public static partial void AcceptFailed(ILogger logger, string address, string reason, int delayMilliseconds);

    [LoggerMessage(102, LogLevel.Debug, "Listener {Address}: a peer went away before it was accepted: {Reason}")]
    public static partial void PeerGone(ILogger logger, string address, string reason);

    [LoggerMessage(104, LogLevel.Warning, "Listener {Address} closed a connection at once: the process is out of file descriptors")]
    public static partial void Shed(ILogger logger, string address);

    [LoggerMessage(103, LogLevel.Warning, "Listener {Address} failed while unbinding: {Reason}")]
    public static partial void UnbindFailed(ILogger logger, string address, string reason);
}
