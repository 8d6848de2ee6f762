using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.MessageQueues;

/// <summary>
/// The POSIX message-queue calls (in glibc's libc since 2.34, and in musl's), which no .NET API
/// or package offers. Every wait is a <c>mq_timed*</c> call with an absolute CLOCK_REALTIME
/// deadline; a deadline of zero makes a call that would block return at once.
/// </summary>
internal static unsafe partial class MqNative
{
    public const int OpenReadOnly = 0;
    public const int OpenWriteOnly = 1;
    public const int OpenReadWrite = 2;
    public const int OpenCreate = 0x40; // O_CREAT
    public const int OpenExclusive = 0x80; // O_EXCL
    public const int OpenCloseOnExec = 0x80000; // O_CLOEXEC

    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int ENoEnt = 2;
    public const int EMFile = 24;
    public const int ENFile = 23;
    public const int ENoSpc = 28;
    public const int EInval = 22;
    public const int EAccess = 13;
    public const int EExist = 17;
    public const int ENoSys = 38;
    public const int ETimedOut = 110;
    public const int EMsgSize = 90;

    private const int RlimitMessageQueue = 12; // RLIMIT_MSGQUEUE

    /// <summary>The zero deadline: a call that would wait returns ETIMEDOUT at once.</summary>
    public static TimeSpec Immediately => default;

    /// <summary>The absolute deadline <paramref name="after"/> from now, as the mq_timed* calls want it.</summary>
    public static TimeSpec Deadline(TimeSpan after)
    {
        var ticks = (DateTime.UtcNow + after - DateTime.UnixEpoch).Ticks;
        return new TimeSpec { Seconds = ticks / TimeSpan.TicksPerSecond, Nanoseconds = ticks % TimeSpan.TicksPerSecond * 100 };
    }

    /// <summary>The soft RLIMIT_MSGQUEUE (bytes of queues per user), or null when unlimited or unknown.</summary>
    public static long? MessageQueueByteLimit()
    {
        var limit = default(ResourceLimit);
        return GetResourceLimit(RlimitMessageQueue, &limit) == 0 && limit.Current < long.MaxValue ? (long)limit.Current : null;
    }

    /// <summary>The descriptor, or -1 with errno in <paramref name="error"/>.</summary>
    public static int Open(string name, int flags, uint mode, long maxMessages, long messageSize, out int error)
    {
        var attributes = new QueueAttributes { MaxMessages = maxMessages, MessageSize = messageSize };
        var descriptor = (flags & OpenCreate) != 0 ? QueueOpen(name, flags, mode, &attributes) : QueueOpen(name, flags, 0, null);
        error = descriptor < 0 ? Marshal.GetLastPInvokeError() : 0;
        return descriptor;
    }

    /// <summary>Removes the name; ENOENT (already removed) is not an error.</summary>
    public static void Unlink(string name)
    {
        if (QueueUnlink(name) != 0 && Marshal.GetLastPInvokeError() is not ENoEnt and var error)
        {
            throw Error("mq_unlink", error);
        }
    }

    public static (long MaxMessages, long MessageSize, long CurrentMessages) GetAttributes(int descriptor)
    {
        var attributes = default(QueueAttributes);
        return QueueGetAttributes(descriptor, &attributes) == 0
            ? (attributes.MaxMessages, attributes.MessageSize, attributes.CurrentMessages)
            : throw Error("mq_getattr", Marshal.GetLastPInvokeError());
    }

    /// <summary>Sends one message; false when the queue stayed full until <paramref name="deadline"/>.</summary>
    public static bool Send(int descriptor, ReadOnlySpan<byte> message, uint priority, TimeSpec deadline)
    {
        fixed (byte* pointer = message)
        {
            while (true)
            {
                if (QueueTimedSend(descriptor, pointer, (nuint)message.Length, priority, &deadline) == 0)
                {
                    return true;
                }

                switch (Marshal.GetLastPInvokeError())
                {
                    case EIntr:
                        continue;
                    case ETimedOut or EAgain:
                        return false;
                    case var error:
                        throw Error("mq_timedsend", error);
                }
            }
        }
    }

    /// <summary>
    /// Receives one message into <paramref name="buffer"/> (at least the queue's message size);
    /// -1 when none came before <paramref name="deadline"/>.
    /// </summary>
    public static int Receive(int descriptor, Span<byte> buffer, out uint priority, TimeSpec deadline)
    {
        fixed (byte* pointer = buffer)
        {
            uint received;
            while (true)
            {
                var length = QueueTimedReceive(descriptor, pointer, (nuint)buffer.Length, &received, &deadline);
                if (length >= 0)
                {
                    priority = received;
                    return (int)length;
                }

                switch (Marshal.GetLastPInvokeError())
                {
                    case EIntr:
                        continue;
                    case ETimedOut or EAgain:
                        priority = 0;
                        return -1;
                    case var error:
                        throw Error("mq_timedreceive", error);
                }
            }
        }
    }

    public static void Close(int descriptor) => _ = QueueClose(descriptor);

    public static IOException Error(string what, int error) => new($"{what} failed: {new Win32Exception(error).Message} (errno {error})", error);

    /// <summary>struct timespec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>struct mq_attr: four longs and four reserved.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct QueueAttributes
    {
        public long Flags;
        public long MaxMessages;
        public long MessageSize;
        public long CurrentMessages;
        private fixed long _reserved[4];
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "mq_open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int QueueOpen(string name, int flags, uint mode, QueueAttributes* attributes);

    [LibraryImport("libc", EntryPoint = "mq_unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int QueueUnlink(string name);

    [LibraryImport("libc", EntryPoint = "mq_getattr", SetLastError = true)]
    private static partial int QueueGetAttributes(int descriptor, QueueAttributes* attributes);

    [LibraryImport("libc", EntryPoint = "mq_timedsend", SetLastError = true)]
    private static partial int QueueTimedSend(int descriptor, byte* message, nuint length, uint priority, TimeSpec* deadline);

    [LibraryImport("libc", EntryPoint = "mq_timedreceive", SetLastError = true)]
    private static partial nint QueueTimedReceive(int descriptor, byte* buffer, nuint length, uint* priority, TimeSpec* deadline);

    [LibraryImport("libc", EntryPoint = "mq_close", SetLastError = true)]
    private static partial int QueueClose(int descriptor);

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetResourceLimit(int resource, ResourceLimit* limit);
}
