using Microsoft.Extensions.Logging;

namespace Rpc.Transports.SharedMemory;

/// <summary>What a shared-memory listener logs.</summary>
internal static partial class SharedMemoryLog
{
    [LoggerMessage(101, LogLevel.Warning, "Refused a shared-memory connection on {Address} from pid {ProcessId}, uid {UserId}, gid {GroupId}: {Reason}")]
    public static partial void Refused(ILogger logger, string address, int? processId, uint? userId, uint? groupId, string reason);

    [LoggerMessage(102, LogLevel.Debug, "A shared-memory handshake on {Address} failed: {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, string address, string reason);

    [LoggerMessage(103, LogLevel.Warning, "Accepting on {Address} failed, retrying shortly: {Reason}")]
    public static partial void AcceptFailed(ILogger logger, string address, string reason);
}
