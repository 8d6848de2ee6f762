using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// The Linux calls the shared-memory transport needs beyond what .NET offers: an unnamed segment
/// (memfd_create, seals), mapping it, and passing its descriptor over the
/// control socket (sendmsg/recvmsg with SCM_RIGHTS). System calls without a stable glibc symbol go
/// through syscall(2) with the number of this architecture.
/// </summary>
internal static unsafe partial class ShmNative
{
    public const int ProtRead = 1;
    public const int ProtWrite = 2;
    public const int MapShared = 1;
    public const int SealSeal = 0x1;
    public const int SealShrink = 0x2;
    public const int SealGrow = 0x4;

    private const uint MemFdCloseOnExec = 0x1; // MFD_CLOEXEC
    private const uint MemFdAllowSealing = 0x2; // MFD_ALLOW_SEALING
    private const int FcntlAddSeals = 1033; // F_ADD_SEALS
    private const int FcntlGetSeals = 1034; // F_GET_SEALS
    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgCmsgCloseOnExec = 0x40000000; // MSG_CMSG_CLOEXEC
    private const int MsgControlTruncated = 0x8; // MSG_CTRUNC
    private const int MsgNoSignal = 0x4000; // MSG_NOSIGNAL
    private const int EAgain = 11;
    private const int EIntr = 4;

    private static readonly bool IsX64 = RuntimeInformation.ProcessArchitecture == Architecture.X64;

    private static long SysMemFdCreate => IsX64 ? 319 : 279;

    private static long SysFcntl => IsX64 ? 72 : 25;

    /// <summary>A new anonymous file of <paramref name="size"/> bytes, mode 0600, that can neither shrink nor grow.</summary>
    public static int CreateSealedMemory(string name, long size)
    {
        var nameBytes = System.Text.Encoding.UTF8.GetBytes(name + "\0");
        int descriptor;
        fixed (byte* namePointer = nameBytes)
        {
            descriptor = (int)Check(Syscall(SysMemFdCreate, (nint)namePointer, (nint)(MemFdCloseOnExec | MemFdAllowSealing), 0, 0, 0, 0), "memfd_create");
        }

        try
        {
            // memfd files start at 0777; the client refuses anything but 0600, the mode a file of ours would have.
            Check(FChangeMode(descriptor, 0x180), "fchmod");
            Check(FTruncate(descriptor, size), "ftruncate");
            // Sealed, a segment cannot be shrunk under the client's mapping (which would SIGBUS it).
            Check(Syscall(SysFcntl, descriptor, FcntlAddSeals, SealShrink | SealGrow | SealSeal, 0, 0, 0), "fcntl(F_ADD_SEALS)");
            return descriptor;
        }
        catch
        {
            _ = Close(descriptor);
            throw;
        }
    }

    public static int GetSeals(int descriptor) => (int)Check(Syscall(SysFcntl, descriptor, FcntlGetSeals, 0, 0, 0, 0), "fcntl(F_GET_SEALS)");

    public static byte* Map(int descriptor, long size)
    {
        var address = MemoryMap(0, (nuint)size, ProtRead | ProtWrite, MapShared, descriptor, 0);
        if (address == -1)
        {
            throw Error("mmap");
        }

        return (byte*)address;
    }

    public static void Unmap(byte* address, long size) => _ = MemoryUnmap((nint)address, (nuint)size);

    public static void CloseDescriptor(int descriptor) => _ = Close(descriptor);

    /// <summary>
    /// Sends <paramref name="data"/> with <paramref name="descriptor"/> attached to its first byte.
    /// The socket is non-blocking; the message is small and the first on a fresh connection, so a
    /// full send buffer is the peer's fault and an error.
    /// </summary>
    public static void SendWithDescriptor(SafeHandle socket, ReadOnlySpan<byte> data, int descriptor)
    {
        const int controlSize = 24; // CMSG_SPACE(sizeof(int)) on 64-bit Linux
        var control = stackalloc byte[controlSize];
        new Span<byte>(control, controlSize).Clear();
        *(long*)control = 16 + sizeof(int); // cmsg_len = CMSG_LEN(sizeof(int))
        *(int*)(control + 8) = SolSocket;
        *(int*)(control + 12) = ScmRights;
        *(int*)(control + 16) = descriptor;
        fixed (byte* dataPointer = data)
        {
            var vector = new IoVector { Base = (nint)dataPointer, Length = (nuint)data.Length };
            var message = new MessageHeader { Vector = (nint)(&vector), VectorCount = 1, Control = (nint)control, ControlLength = controlSize };
            var added = false;
            nint sent;
            var errno = 0;
            try
            {
                // The reference keeps the descriptor from being closed and reused during the call.
                socket.DangerousAddRef(ref added);
                sent = SendMessage((int)socket.DangerousGetHandle(), &message, MsgNoSignal);
                errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
            finally
            {
                if (added)
                {
                    socket.DangerousRelease();
                }
            }

            if (sent < 0)
            {
                throw Error("sendmsg", errno);
            }

            if (sent != data.Length)
            {
                throw new IOException($"sendmsg sent {sent} of {data.Length} bytes.");
            }
        }
    }

    /// <summary>
    /// Receives into <paramref name="buffer"/> and the descriptor that came with it, if any (-1
    /// otherwise; more than one is an error). Returns -1 bytes when nothing is there yet (EAGAIN).
    /// </summary>
    public static int ReceiveWithDescriptor(SafeHandle socket, Span<byte> buffer, out int descriptor)
    {
        // Room for a few descriptors, so that a peer sending several is caught rather than truncated silently.
        const int controlSize = 64;
        var control = stackalloc byte[controlSize];
        new Span<byte>(control, controlSize).Clear();
        descriptor = -1;
        fixed (byte* bufferPointer = buffer)
        {
            var vector = new IoVector { Base = (nint)bufferPointer, Length = (nuint)buffer.Length };
            var message = new MessageHeader { Vector = (nint)(&vector), VectorCount = 1, Control = (nint)control, ControlLength = controlSize };
            var added = false;
            nint received;
            var errno = 0;
            try
            {
                socket.DangerousAddRef(ref added);
                received = ReceiveMessage((int)socket.DangerousGetHandle(), &message, MsgCmsgCloseOnExec);
                errno = received < 0 ? Marshal.GetLastPInvokeError() : 0;
            }
            finally
            {
                if (added)
                {
                    socket.DangerousRelease();
                }
            }

            if (received < 0)
            {
                return errno is EAgain or EIntr ? -1 : throw Error("recvmsg", errno);
            }

            var descriptors = new List<int>();
            for (var offset = 0L; offset + 16 <= (long)message.ControlLength;)
            {
                var length = *(long*)(control + offset);
                if (length < 16 || offset + length > (long)message.ControlLength)
                {
                    break;
                }

                if (*(int*)(control + offset + 8) == SolSocket && *(int*)(control + offset + 12) == ScmRights)
                {
                    for (var at = 16L; at + sizeof(int) <= length; at += sizeof(int))
                    {
                        descriptors.Add(*(int*)(control + offset + at));
                    }
                }

                offset += (length + 7) & ~7L;
            }

            if (descriptors.Count > 1 || (message.Flags & MsgControlTruncated) != 0)
            {
                descriptors.ForEach(CloseDescriptor);
                throw new IOException("The peer passed more than one descriptor.");
            }

            descriptor = descriptors.Count == 1 ? descriptors[0] : -1;
            return (int)received;
        }
    }

    private static long Check(long result, string what) => result < 0 ? throw Error(what) : result;

    private static IOException Error(string what, int? errno = null)
    {
        var error = errno ?? Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {new Win32Exception(error).Message} (errno {error}).");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public nint Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public nint Name;
        public int NameLength;
        public nint Vector;
        public nuint VectorCount;
        public nint Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int FChangeMode(int descriptor, uint mode);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int FTruncate(int descriptor, long length);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint MemoryMap(nint address, nuint length, int protection, int flags, int descriptor, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int MemoryUnmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessage(int socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint ReceiveMessage(int socket, MessageHeader* message, int flags);
}
