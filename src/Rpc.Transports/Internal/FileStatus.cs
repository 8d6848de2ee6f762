using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Rpc.Transports.Internal;

/// <summary>
/// What the kernel says about a file: which file it is (device and inode), its type, mode and
/// owner. Lets a listener tell a socket from a user's file, and its own socket from one that
/// replaced it. Linux only (statx(2), whose layout is the same on every architecture).
/// </summary>
/// <param name="Device">The file system it lives on.</param>
/// <param name="Inode">Its number on that file system.</param>
/// <param name="Type">The S_IFMT bits of its mode.</param>
/// <param name="Mode">Its permission bits.</param>
/// <param name="UserId">Its owner.</param>
/// <param name="Created">When this inode came to be (birth time where the file system keeps one, else
/// its last status change), so a new file that reuses a freed inode number is not taken for the old one.</param>
/// <param name="Size">Its length in bytes.</param>
internal readonly partial record struct FileStatus(ulong Device, ulong Inode, int Type, UnixFileMode Mode, uint UserId, (long Seconds, uint Nanoseconds) Created, long Size)
{
    private const uint BirthTimeKnown = 0x800; // STATX_BTIME
    private const int TypeMask = 0xF000; // S_IFMT
    private const int SocketType = 0xC000; // S_IFSOCK
    private const int RegularType = 0x8000; // S_IFREG
    private const int DirectoryType = 0x4000; // S_IFDIR
    private const int CurrentDirectory = -100; // AT_FDCWD
    private const int NoFollow = 0x100; // AT_SYMLINK_NOFOLLOW
    private const int EmptyPath = 0x1000; // AT_EMPTY_PATH
    private const uint BasicStats = 0xFFF; // STATX_BASIC_STATS | STATX_BTIME
    private const int NotFound = 2; // ENOENT
    private const int NotDirectory = 20; // ENOTDIR
    private const int BufferSize = 256; // sizeof(struct statx)

    /// <summary>Whether this platform can tell (Linux).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    public bool IsSocket => Type == SocketType;

    public bool IsRegularFile => Type == RegularType;

    public bool IsDirectory => Type == DirectoryType;

    /// <summary>Whether both describe the same file.</summary>
    public bool IsSameFile(FileStatus other) => Device == other.Device && Inode == other.Inode && Created == other.Created;

    /// <summary>The file at <paramref name="path"/> itself (a link is not followed); <see langword="null"/> when there is none.</summary>
    /// <exception cref="IOException">The path could not be examined; the message names it.</exception>
    public static FileStatus? OfPath(string path)
    {
        Span<byte> buffer = stackalloc byte[BufferSize];
        if (StatX(CurrentDirectory, path, NoFollow, BasicStats, ref MemoryMarshal.GetReference(buffer)) == 0)
        {
            return Parse(buffer);
        }

        var error = Marshal.GetLastPInvokeError();
        return error is NotFound or NotDirectory
            ? null
            : throw new IOException($"Cannot examine '{path}': {new Win32Exception(error).Message}", error);
    }

    /// <summary>The file open behind <paramref name="handle"/>.</summary>
    public static FileStatus OfHandle(SafeHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            Span<byte> buffer = stackalloc byte[BufferSize];
            return StatX((int)handle.DangerousGetHandle(), string.Empty, EmptyPath, BasicStats, ref MemoryMarshal.GetReference(buffer)) == 0
                ? Parse(buffer)
                : throw new IOException($"fstat failed: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static FileStatus Parse(ReadOnlySpan<byte> statx)
    {
        // struct statx: stx_mask at 0, stx_uid at 20, stx_mode (u16) at 28, stx_ino at 32,
        // stx_size at 40, stx_btime at 80 and stx_ctime at 96 (i64 seconds, u32 nanoseconds), stx_dev_major/minor at 136/140.
        var mode = MemoryMarshal.Read<ushort>(statx[28..]);
        var device = ((ulong)MemoryMarshal.Read<uint>(statx[136..]) << 32) | MemoryMarshal.Read<uint>(statx[140..]);
        var created = (MemoryMarshal.Read<uint>(statx) & BirthTimeKnown) != 0 ? 80 : 96;
        return new FileStatus(device, MemoryMarshal.Read<ulong>(statx[32..]), mode & TypeMask, (UnixFileMode)(mode & 0xFFF), MemoryMarshal.Read<uint>(statx[20..]),
            (MemoryMarshal.Read<long>(statx[created..]), MemoryMarshal.Read<uint>(statx[(created + 8)..])), MemoryMarshal.Read<long>(statx[40..]));
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatX(int directory, string path, int flags, uint mask, ref byte buffer);
}
