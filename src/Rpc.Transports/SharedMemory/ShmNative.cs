using System.ComponentModel;
using System.Runtime.InteropServices;
using Rpc.Transports.Internal;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// The Linux calls the shared-memory transport needs beyond what .NET offers: an unnamed segment
/// (memfd_create, seals), mapping it, and passing its descriptor over the
/// control socket (through <see cref="DescriptorPassing"/>). System calls without a stable glibc symbol go
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
    /// The message is small and the first on a fresh connection, so a full send buffer is the
    /// peer's fault and an error.
    /// </summary>
    public static void SendWithDescriptor(SafeHandle socket, ReadOnlySpan<byte> data, int descriptor)
    {
        var sent = DescriptorPassing.Send(socket, data, [descriptor]);
        if (sent != data.Length)
        {
            throw new IOException($"sendmsg sent {Math.Max(sent, 0)} of {data.Length} bytes.");
        }
    }

    /// <summary>
    /// Receives into <paramref name="buffer"/> and the descriptor that came with it, if any (-1
    /// otherwise; more than one is an error). Returns -1 bytes when nothing is there yet (EAGAIN).
    /// </summary>
    public static int ReceiveWithDescriptor(SafeHandle socket, Span<byte> buffer, out int descriptor)
    {
        Span<int> passed = stackalloc int[1];
        var received = DescriptorPassing.Receive(socket, buffer, passed, out var count);
        descriptor = count == 1 ? passed[0] : -1;
        return received;
    }

    private static long Check(long result, string what) => result < 0 ? throw Error(what) : result;

    private static IOException Error(string what, int? errno = null)
    {
        var error = errno ?? Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {new Win32Exception(error).Message} (errno {error}).");
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
}
