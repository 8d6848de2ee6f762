using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal;
using static Rpc.Transports.SharedMemory.RingLayout;

namespace Rpc.Transports.SharedMemory;

/// <summary>
/// One connection's mapped segment. The server creates it with memfd_create: it never has a name,
/// so no crash of either side can leave it behind, and its memory goes with the last mapping or
/// descriptor. The server passes the descriptor over the control socket (SCM_RIGHTS); the client
/// checks who owns it, its mode, size and seals before mapping it.
/// </summary>
internal sealed unsafe class SharedSegment : IDisposable
{
    private readonly byte* _base;
    private readonly long _size;
    private int _descriptor;
    private int _disposed;

    private SharedSegment(byte* mapped, int capacity, int descriptor)
    {
        _base = mapped;
        _size = SegmentSize(capacity);
        Capacity = capacity;
        _descriptor = descriptor;
    }

    public int Capacity { get; }

    /// <summary>The server's descriptor of the segment, until <see cref="CloseDescriptor"/>; -1 after.</summary>
    public int Descriptor => Volatile.Read(ref _descriptor);

    /// <summary>Server: a new, sealed, unnamed segment with an initialized header.</summary>
    public static SharedSegment Create(string name, int capacity)
    {
        var descriptor = ShmNative.CreateSealedMemory("rpc-shm-" + name, SegmentSize(capacity));
        try
        {
            var segment = new SharedSegment(ShmNative.Map(descriptor, SegmentSize(capacity)), capacity, descriptor);
            *(ulong*)(segment._base + MagicOffset) = Magic;
            *(int*)(segment._base + VersionOffset) = RingLayout.Version;
            *(int*)(segment._base + CapacityOffset) = capacity;
            return segment;
        }
        catch
        {
            ShmNative.CloseDescriptor(descriptor);
            throw;
        }
    }

    /// <summary>
    /// Client: maps the segment behind <paramref name="descriptor"/> (which stays the caller's) once
    /// it is a regular file owned by <paramref name="owner"/>, mode 0600, of the size announced and
    /// sealed against shrinking; then checks its header.
    /// </summary>
    public static SharedSegment Open(int descriptor, int capacity, uint owner)
    {
        FileStatus status;
        using (var handle = new SafeFileHandle(descriptor, ownsHandle: false))
        {
            status = FileStatus.OfHandle(handle);
        }

        if (!status.IsRegularFile || status.UserId != owner || status.Mode != (UnixFileMode.UserRead | UnixFileMode.UserWrite))
        {
            throw new IOException($"The shared-memory segment is not ours to map: owner uid {status.UserId} (expected {owner}), mode {Convert.ToString((int)status.Mode, 8)} (expected 600).");
        }

        if (status.Size != SegmentSize(capacity))
        {
            throw new IOException($"The shared-memory segment is {status.Size} bytes, not the {SegmentSize(capacity)} announced.");
        }

        // Unsealed, the server could shrink the file under our mapping, and our next access would kill us (SIGBUS).
        const int needed = ShmNative.SealShrink | ShmNative.SealGrow;
        if ((ShmNative.GetSeals(descriptor) & needed) != needed)
        {
            throw new IOException("The shared-memory segment is not sealed against resizing.");
        }

        var segment = new SharedSegment(ShmNative.Map(descriptor, SegmentSize(capacity)), capacity, descriptor: -1);
        if (*(ulong*)(segment._base + MagicOffset) != Magic || *(int*)(segment._base + VersionOffset) != RingLayout.Version || *(int*)(segment._base + CapacityOffset) != capacity)
        {
            segment.Dispose();
            throw new IOException("The shared-memory segment has an unexpected header.");
        }

        return segment;
    }

    /// <summary>The ring that <paramref name="ring"/> (0: client → server, 1: server → client) lives in.</summary>
    public SharedRing GetRing(int ring, TimeSpan spin) => new(_base + RingOffset(ring, Capacity), Capacity, spin);

    /// <summary>Where ring <paramref name="ring"/> starts in this process; for tests that play a hostile peer.</summary>
    internal byte* GetRingPointer(int ring) => _base + RingOffset(ring, Capacity);

    /// <summary>Server: the descriptor was passed on (or the handshake failed); the mapping stays valid.</summary>
    public void CloseDescriptor()
    {
        var descriptor = Interlocked.Exchange(ref _descriptor, -1);
        if (descriptor >= 0)
        {
            ShmNative.CloseDescriptor(descriptor);
        }
    }

    /// <summary>Unmaps the segment; only once no thread can touch its rings.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        CloseDescriptor();
        ShmNative.Unmap(_base, _size);
    }
}
