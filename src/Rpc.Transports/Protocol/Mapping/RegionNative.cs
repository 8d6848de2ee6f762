using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Protocol.Mapping;

/// <summary>
/// The Linux calls behind mapped payload regions beyond those the shared-memory transport already
/// has (memfd_create and seals live in <see cref="SharedMemory.ShmNative"/>): a read-only mapping
/// for the receiver, and retiring a mapping in place.
/// </summary>
internal static unsafe partial class RegionNative
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapShared = 0x01;
    private const int MapPrivate = 0x02;
    private const int MapFixed = 0x10;
    private const int MapAnonymous = 0x20;
    private const int MapPopulate = 0x8000;

    /// <summary>Whether this platform has memfd regions (Linux).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    public static byte* MapReadOnly(SafeHandle descriptor, long size) => Map(descriptor, size, ProtRead);

    public static byte* MapReadWrite(SafeHandle descriptor, long size) => Map(descriptor, size, ProtRead | ProtWrite);

    /// <summary>
    /// Replaces the mapping at <paramref name="address"/> with private zero pages of the same size,
    /// in one step: the peer's memory is let go at once, while a thread still reading (or writing)
    /// the range sees zeros instead of faulting. The range is freed later with <see cref="Unmap"/>.
    /// </summary>
    public static void Retire(byte* address, long size)
    {
        var result = MemoryMap((nint)address, (nuint)size, ProtRead | ProtWrite, MapPrivate | MapFixed | MapAnonymous, -1, 0);
        if (result == -1)
        {
            throw Error("mmap(MAP_FIXED)");
        }
    }

    public static void Unmap(byte* address, long size) => _ = MemoryUnmap((nint)address, (nuint)size);

    private static byte* Map(SafeHandle descriptor, long size, int protection)
    {
        var added = false;
        try
        {
            descriptor.DangerousAddRef(ref added);
            // Populated at once: one pass of the kernel instead of a page fault per 4 KiB on first
            // touch (the sender's copy, the receiver's parse), which cost more than the copy itself
            // for a fresh 16 MiB region on this VM.
            var address = MemoryMap(0, (nuint)size, protection, MapShared | MapPopulate, (int)descriptor.DangerousGetHandle(), 0);
            return address == -1 ? throw Error("mmap") : (byte*)address;
        }
        finally
        {
            if (added)
            {
                descriptor.DangerousRelease();
            }
        }
    }

    private static IOException Error(string what)
    {
        var error = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {new Win32Exception(error).Message} (errno {error}).");
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint MemoryMap(nint address, nuint length, int protection, int flags, int descriptor, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int MemoryUnmap(nint address, nuint length);
}
