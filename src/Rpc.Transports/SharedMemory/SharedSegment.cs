using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;
using static Rpc.Transports.SharedMemory.RingLayout;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// One connection's mapped segment. The server creates it as a file only its user can open, the
/// client maps it, and both unlink the file as soon as it is mapped: after that, nothing is left
/// on disk even if both crash, and the memory goes when the last mapping does.
/// </summary>
internal sealed unsafe class SharedSegment : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly SafeMemoryMappedViewHandle _handle;
    private readonly byte* _base;
    private int _disposed;

    private SharedSegment(MemoryMappedFile file, int capacity, string path)
    {
        _file = file;
        Capacity = capacity;
        Path = path;
        _view = file.CreateViewAccessor(0, SegmentSize(capacity), MemoryMappedFileAccess.ReadWrite);
        _handle = _view.SafeMemoryMappedViewHandle;
        byte* pointer = null;
        _handle.AcquirePointer(ref pointer);
        _base = pointer + _view.PointerOffset;
    }

    public int Capacity { get; }

    public string Path { get; }

    public static string Directory => System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath();

    /// <summary>Server: a new segment with an initialized header.</summary>
    public static SharedSegment Create(string name, int capacity)
    {
        var path = System.IO.Path.Combine(Directory, $"rpc-{name}-{Guid.NewGuid():N}");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var stream = new FileStream(path, options);
        try
        {
            stream.SetLength(SegmentSize(capacity));
            var file = MemoryMappedFile.CreateFromFile(stream, null, SegmentSize(capacity), MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            var segment = new SharedSegment(file, capacity, path);
            *(ulong*)(segment._base + MagicOffset) = Magic;
            *(int*)(segment._base + VersionOffset) = RingLayout.Version;
            *(int*)(segment._base + CapacityOffset) = capacity;
            return segment;
        }
        catch
        {
            stream.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Client: maps the segment the server named and checks its header.</summary>
    public static SharedSegment Open(string path, int capacity)
    {
        if (!LooksLikeOurSegment(path))
        {
            throw new IOException($"'{path}' is not a shared-memory segment of this transport.");
        }

        var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        try
        {
            if (stream.Length != SegmentSize(capacity))
            {
                throw new IOException($"Segment '{path}' is {stream.Length} bytes, not the {SegmentSize(capacity)} announced.");
            }

            var file = MemoryMappedFile.CreateFromFile(stream, null, SegmentSize(capacity), MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            var segment = new SharedSegment(file, capacity, path);
            if (*(ulong*)(segment._base + MagicOffset) != Magic || *(int*)(segment._base + VersionOffset) != RingLayout.Version || *(int*)(segment._base + CapacityOffset) != capacity)
            {
                segment.Dispose();
                throw new IOException($"Segment '{path}' has an unexpected header.");
            }

            return segment;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The ring that <paramref name="ring"/> (0: client → server, 1: server → client) lives in.</summary>
    public SharedRing GetRing(int ring, TimeSpan spin) => new(_base + RingOffset(ring, Capacity), Capacity, spin);

    /// <summary>Where ring <paramref name="ring"/> starts in this process; for tests that play a hostile peer.</summary>
    internal byte* GetRingPointer(int ring) => _base + RingOffset(ring, Capacity);

    /// <summary>Removes the file; the mapping stays valid.</summary>
    public void Unlink()
    {
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // The other side unlinked it first.
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _handle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    private static bool LooksLikeOurSegment(string path) =>
        System.IO.Path.GetDirectoryName(path) == Directory.TrimEnd('/') &&
        System.IO.Path.GetFileName(path).StartsWith("rpc-", StringComparison.Ordinal);
}
