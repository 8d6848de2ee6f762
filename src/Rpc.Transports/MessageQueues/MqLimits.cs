using System.Globalization;

namespace Rpc.Transports.MessageQueues;

/// <summary>
/// The kernel's limits on POSIX message queues, read at run time, and how a connection's two
/// queues are sized to fit them. Linux's defaults are small: 10 messages (fs.mqueue.msg_max) of
/// 8 KiB (fs.mqueue.msgsize_max) per queue, 256 queues on the host (fs.mqueue.queues_max), and
/// 819,200 bytes of queues per user (RLIMIT_MSGQUEUE, <c>ulimit -q</c>).
/// </summary>
internal sealed record MqLimits(long MaxMessages, long MaxMessageSize, long MaxQueues, long? UserBytes)
{
    /// <summary>
    /// What the kernel charges a queue beyond its messages' bytes, per message (a msg_msg and a
    /// priority-tree node, 48 bytes each on 64-bit kernels); rounded up, so a fit here fits there.
    /// </summary>
    public const long OverheadPerMessage = 128;

    private const string Directory = "/proc/sys/fs/mqueue/";

    /// <summary>The limits now (the files are read on every call: an administrator may raise them while we run).</summary>
    public static MqLimits Read() => new(
        ReadValue("msg_max", 10),
        ReadValue("msgsize_max", 8192),
        ReadValue("queues_max", 256),
        MqNative.MessageQueueByteLimit());

    /// <summary>The bytes the kernel charges to the user for one queue of this shape.</summary>
    public static long Cost(long messages, long messageSize) => messages * (messageSize + OverheadPerMessage);

    /// <summary>
    /// The largest queue shape no bigger than asked that the limits allow for the two queues of a
    /// connection: the message size and count are capped by the sysctls, then the count lowered
    /// until both queues fit in RLIMIT_MSGQUEUE.
    /// </summary>
    /// <exception cref="IOException">Not even one message of the capped size fits; the message names the limit to raise.</exception>
    public (long Messages, long MessageSize) Fit(long messages, long messageSize)
    {
        messageSize = Math.Min(messageSize, MaxMessageSize);
        messages = Math.Min(messages, MaxMessages);
        if (UserBytes is { } budget)
        {
            messages = Math.Min(messages, budget / 2 / (messageSize + OverheadPerMessage));
            if (messages < 1)
            {
                throw new IOException(
                    $"two message queues of one {messageSize}-byte message do not fit in RLIMIT_MSGQUEUE ({budget} bytes per user); " +
                    "raise it (ulimit -q, or LimitMSGQUEUE= in a systemd unit) or lower MessageQueueTransportOptions.MessageSize");
            }
        }

        return (messages, messageSize);
    }

    /// <summary>Why mq_open failed, in words that name the limit to raise.</summary>
    public string Explain(int error, long messages, long messageSize) => error switch
    {
        MqNative.EMFile => UserBytes is { } budget
            ? $"this user's message queues would exceed RLIMIT_MSGQUEUE ({budget} bytes; a queue of {messages} × {messageSize} bytes costs about {Cost(messages, messageSize)}), or the process is out of descriptors; close connections, raise it (ulimit -q, or LimitMSGQUEUE= in a systemd unit) or lower MessageQueueTransportOptions.MaxMessages/MessageSize"
            : "the process is out of file descriptors (RLIMIT_NOFILE)",
        MqNative.ENFile => "the system is out of file descriptors (fs.file-max)",
        MqNative.ENoSpc => $"the host already has fs.mqueue.queues_max ({MaxQueues}) message queues; raise it (sysctl fs.mqueue.queues_max)",
        MqNative.EInval => $"{messages} messages of {messageSize} bytes exceed fs.mqueue.msg_max ({MaxMessages}) or fs.mqueue.msgsize_max ({MaxMessageSize}); raise them with sysctl",
        MqNative.ENoSys => "this kernel has no POSIX message queues (CONFIG_POSIX_MQUEUE)",
        MqNative.EAccess => "permission denied",
        _ => MqNative.Error("mq_open", error).Message,
    };

    private static long ReadValue(string name, long fallback)
    {
        try
        {
            return long.Parse(File.ReadAllText(Directory + name).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            // Without /proc (a restricted container), the kernel's defaults are the best guess; mq_open says the rest.
            return fallback;
        }
    }
}
