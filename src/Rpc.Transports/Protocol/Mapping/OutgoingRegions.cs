using Microsoft.Win32.SafeHandles;
using Rpc.Transports.Internal;
using Rpc.Transports.SharedMemory;

namespace Rpc.Transports.Protocol.Mapping;

/// <summary>
/// The regions this side sends large messages through, on one connection (docs/mapped-payloads.md).
/// A region carries one message at a time and is reused once the peer has parsed it; regions are
/// made on demand up to <see cref="Limit"/> bytes in all (the smaller of this side's cap and what the
/// peer said it maps), and a message that finds none free is sent through the byte stream instead.
/// </summary>
/// <remarks>
/// Threads: writers acquire and finish (any thread), the announce runs under the connection's write
/// lock, releases come from the read loop, dispose from whoever closes; all meet under one lock. A
/// mapping is never unmapped while a writer copies into it.
/// </remarks>
internal sealed class OutgoingRegions : IDisposable
{
    /// <summary>No region is smaller: small large messages share a size class instead of each making one.</summary>
    public const int MinRegionSize = 256 * 1024;

    /// <summary>
    /// Regions one side has at once, whatever their size: the peer's medium queues the descriptors
    /// of announced regions it has not mapped yet (a few dozen at most), and a stream of messages
    /// needs no more than this in flight to keep moving (16 × 1 MiB is the connection window).
    /// </summary>
    public const int MaxRegions = 16;

    /// <summary>Released regions kept for reuse, in bytes; beyond it they are dropped.</summary>
    public const long KeepFreeBytes = 64L * 1024 * 1024;

    /// <summary>
    /// A released region larger than this is dropped at once: a rare huge message does not hold its
    /// memory for the connection's life, while a 16 MiB one (a 17 MiB region) is reused rather than
    /// made, faulted in and zeroed again on every call.
    /// </summary>
    public const int KeepRegionBytes = 32 * 1024 * 1024;

    private readonly Lock _lock = new();
    private readonly List<OutgoingRegion> _regions = [];
    private readonly Dictionary<uint, OutgoingRegion> _announced = [];
    private readonly IDescriptorChannel _channel;
    private long _total;
    private int _creating;
    private readonly Dictionary<uint, int> _dropping = [];
    private uint _nextId = 1;
    private bool _disposed;

    public OutgoingRegions(IDescriptorChannel channel, long limit, int threshold)
    {
        _channel = channel;
        Limit = limit;
        Threshold = threshold;
    }

    /// <summary>The smallest message that goes through a region.</summary>
    public int Threshold { get; }

    /// <summary>Bytes of regions this side may have at once.</summary>
    public long Limit { get; }

    /// <summary>Bytes of regions made and not yet dropped; for tests and diagnostics.</summary>
    public long TotalBytes
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>Regions holding a message the peer has not released; for tests and diagnostics.</summary>
    public int InUseCount
    {
        get
        {
            lock (_lock)
            {
                return _regions.Count(region => region.InUse);
            }
        }
    }

    /// <summary>The size of region a message of <paramref name="length"/> bytes gets: powers of two up to 4 MiB, whole MiB beyond.</summary>
    public static int RegionSizeFor(int length)
    {
        const int mebibyte = 1024 * 1024;
        if (length <= 4 * mebibyte)
        {
            return Math.Max(MinRegionSize, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)length));
        }

        return (int)Math.Min(int.MaxValue & ~(4096 - 1), ((long)length + mebibyte - 1) / mebibyte * mebibyte);
    }

    /// <summary>
    /// A free region of at least <paramref name="length"/> bytes, made if need be; null when the
    /// budget is spent or the system refuses (the caller sends through the stream instead).
    /// </summary>
    public unsafe OutgoingRegion? TryAcquire(int length)
    {
        int size;
        lock (_lock)
        {
            if (_disposed)
            {
                return null;
            }

            OutgoingRegion? best = null;
            foreach (var region in _regions)
            {
                if (!region.InUse && region.Size >= length && (best is null || region.Size < best.Size))
                {
                    best = region;
                }
            }

            if (best is not null)
            {
                best.InUse = true;
                best.Writing = true;
                best.Acquisition++;
                return best;
            }

            size = RegionSizeFor(length);
            if (size < length || _total + size > Limit || _regions.Count + _creating + _dropping.Count >= MaxRegions)
            {
                return null;
            }

            _total += size;
            _creating++;
        }

        // Made outside the lock: a few system calls and, for a large region, the kernel zeroing pages.
        OutgoingRegion made;
        try
        {
            var descriptor = new SafeFileHandle(ShmNative.CreateSealedMemory("rpc-payload", size), ownsHandle: true);
            try
            {
                made = new OutgoingRegion(this, descriptor, RegionNative.MapReadWrite(descriptor, size), size);
            }
            catch
            {
                descriptor.Dispose();
                throw;
            }
        }
        catch (IOException)
        {
            // Out of memory or descriptors: this message takes the stream; nothing is lost.
            lock (_lock)
            {
                _total -= size;
                _creating--;
            }

            return null;
        }

        lock (_lock)
        {
            _creating--;
            if (!_disposed)
            {
                made.InUse = true;
                made.Writing = true;
                _regions.Add(made);
                return made;
            }

            _total -= size;
        }

        Free(made);
        return null;
    }

    /// <summary>
    /// Under the connection's write lock, just before the reference frame is written: a region not
    /// yet announced gets its id and its descriptor goes to the peer, so descriptors reach the peer
    /// in the order of the ids that name them. True when this reference announces the region.
    /// </summary>
    public bool Announce(OutgoingRegion region)
    {
        if (region.Id != 0)
        {
            return false;
        }

        // The channel owns the descriptor from the call on, sent or not; a region whose send failed
        // keeps no descriptor and no id, and its connection is being torn down (the caller aborts it).
        var descriptor = region.PendingDescriptor ?? throw new IOException("A payload region lost its descriptor to a failed send.");
        region.PendingDescriptor = null;
        _channel.SendDescriptor(descriptor);

        // The id only once the descriptor is on its way: ids and descriptors must pair up at the peer.
        lock (_lock)
        {
            region.Id = _nextId++;
            _announced.Add(region.Id, region);
        }

        return true;
    }

    /// <summary>
    /// The writer is done with the region: <paramref name="referenced"/> when its reference frame
    /// was written (the peer will release it), false when the message never went (it is free again).
    /// </summary>
    public void FinishWrite(OutgoingRegion region, bool referenced)
    {
        lock (_lock)
        {
            region.Writing = false;
            if (!referenced)
            {
                region.InUse = false;
            }

            if (!_disposed)
            {
                return;
            }
        }

        Free(region);
    }

    /// <summary>
    /// The owner of acquisition <paramref name="acquisition"/> lets the region go without having
    /// sent it (a serializer that spilled, a message never sent); a no-op once that acquisition
    /// was finished, which a send does.
    /// </summary>
    public void Abandon(OutgoingRegion region, int acquisition)
    {
        lock (_lock)
        {
            if (region.Acquisition != acquisition || !region.Writing)
            {
                return;
            }
        }

        FinishWrite(region, referenced: false);
    }

    /// <summary>
    /// Read loop: the peer parsed the message in region <paramref name="id"/>. Returns the id to drop
    /// (tell the peer with REGION_DROP, it is unmapped here already) or 0 when the region is kept.
    /// </summary>
    public uint OnReleased(uint id)
    {
        OutgoingRegion region;
        lock (_lock)
        {
            if (!_announced.TryGetValue(id, out region!) || !region.InUse || region.Writing)
            {
                throw new ProtocolException($"REGION_RELEASE names region {id}, which holds no message of this side's.");
            }

            region.InUse = false;
            if (_disposed)
            {
                return 0;
            }

            var free = 0L;
            foreach (var other in _regions)
            {
                free += other.InUse ? 0 : other.Size;
            }

            if (region.Size <= KeepRegionBytes && free <= KeepFreeBytes)
            {
                return 0;
            }

            // Its bytes and its place among MaxRegions stay taken until the REGION_DROP is written
            // (OnDropSent): a region announced before that would reach the peer while it still
            // counts this one.
            _regions.Remove(region);
            _announced.Remove(id);
            _dropping.Add(id, region.Size);
        }

        Free(region);
        return id;
    }

    /// <summary>Read loop: the REGION_DROP for <paramref name="id"/> is written; its budget is free.</summary>
    public void OnDropSent(uint id)
    {
        lock (_lock)
        {
            if (_dropping.Remove(id, out var size))
            {
                _total -= size;
            }
        }
    }

    public void Dispose()
    {
        List<OutgoingRegion> idle = [];
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var region in _regions)
            {
                if (!region.Writing)
                {
                    idle.Add(region);
                }
            }
        }

        // A region a writer still copies into is freed by that writer's FinishWrite.
        idle.ForEach(Free);
    }

    private static unsafe void Free(OutgoingRegion region)
    {
        region.PendingDescriptor?.Dispose();
        RegionNative.Unmap(region.Address, region.Size);
    }
}
