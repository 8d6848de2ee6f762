using Rpc.Transports.Internal;
using Rpc.Transports.SharedMemory;

namespace Rpc.Transports.Protocol.Mapping;

/// <summary>
/// The peer's regions this side has mapped, on one connection (docs/mapped-payloads.md). The peer
/// is not trusted: a new region's descriptor must be a sealed regular file of exactly the size the
/// reference claims, within this side's limit; every reference must fit its region; a region holds
/// one message at a time.
/// </summary>
/// <remarks>
/// Threads: the read loop maps regions and takes references (<see cref="Take"/>, <see cref="OnDropped"/>);
/// readers release their message on any thread; the connection's close disposes. They meet under
/// one lock. A mapping a reader may still parse is never unmapped: at close it is retired to zero
/// pages (the peer's memory goes at once) and unmapped when its message is released.
/// </remarks>
internal sealed class IncomingRegions : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, IncomingRegion> _regions = [];
    private readonly IDescriptorChannel _channel;
    private readonly Action<uint> _sendRelease;
    private long _mapped;
    private uint _lastId;
    private bool _disposed;

    /// <param name="channel">Where the peer's descriptors arrive.</param>
    /// <param name="limit">Bytes of the peer's regions this side maps at once (what it advertised).</param>
    /// <param name="sendRelease">Sends REGION_RELEASE for a region; called outside the lock, on any thread.</param>
    public IncomingRegions(IDescriptorChannel channel, long limit, Action<uint> sendRelease)
    {
        _channel = channel;
        Limit = limit;
        _sendRelease = sendRelease;
    }

    public long Limit { get; }

    /// <summary>Bytes mapped now; for tests and diagnostics.</summary>
    public long MappedBytes
    {
        get
        {
            lock (_lock)
            {
                return _mapped;
            }
        }
    }

    /// <summary>
    /// Read loop: the region a MESSAGE_REF names, mapped first when the reference announces it, now
    /// holding the message. Throws <see cref="ProtocolException"/> for anything the peer got wrong.
    /// </summary>
    public unsafe IncomingRegion Take(MessageReference reference)
    {
        IncomingRegion? region;
        if (reference.AnnouncedSize is { } size)
        {
            region = Map(reference.RegionId, size);
        }
        else
        {
            lock (_lock)
            {
                if (!_regions.TryGetValue(reference.RegionId, out region))
                {
                    throw new ProtocolException($"MESSAGE_REF names region {reference.RegionId}, which was never announced or was dropped.");
                }
            }
        }

        lock (_lock)
        {
            if (reference.Length > region.Size)
            {
                throw new ProtocolException($"MESSAGE_REF of {reference.Length} bytes does not fit region {region.Id} of {region.Size} bytes.");
            }

            if (region.Busy)
            {
                throw new ProtocolException($"MESSAGE_REF reuses region {region.Id} before this side released it.");
            }

            region.Busy = true;
            return region;
        }
    }

    /// <summary>Read loop: the peer will not reference <paramref name="id"/> again.</summary>
    public void OnDropped(uint id)
    {
        IncomingRegion? region;
        lock (_lock)
        {
            if (!_regions.Remove(id, out region))
            {
                throw new ProtocolException($"REGION_DROP names region {id}, which is not mapped.");
            }

            if (region.Busy)
            {
                // Only a peer that broke the rules drops a region holding a message; the reader still parses it.
                region.Orphaned = true;
                return;
            }

            _mapped -= region.Size;
        }

        Unmap(region);
    }

    /// <summary>Any thread: the message in <paramref name="region"/> was parsed or dropped.</summary>
    public void OnMessageReleased(IncomingRegion region)
    {
        bool orphaned;
        lock (_lock)
        {
            if (!region.Busy)
            {
                return;
            }

            region.Busy = false;
            // Read under the lock: a close or a drop on another thread may orphan it at any moment.
            orphaned = region.Orphaned;
            if (orphaned)
            {
                _mapped -= region.Size;
            }
        }

        if (orphaned)
        {
            Unmap(region);
            return;
        }

        _sendRelease(region.Id);
    }

    public unsafe void Dispose()
    {
        List<IncomingRegion> idle = [];
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var region in _regions.Values)
            {
                if (region.Busy)
                {
                    region.Orphaned = true;
                    RegionNative.Retire(region.Address, region.Size);
                }
                else
                {
                    idle.Add(region);
                    _mapped -= region.Size;
                }
            }

            _regions.Clear();
        }

        idle.ForEach(Unmap);
    }

    private unsafe IncomingRegion Map(uint id, long size)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                throw new ProtocolException("A region arrived after the connection closed.");
            }

            // Ids only grow, so the descriptor taken next is the one sent for this id.
            if (id != _lastId + 1)
            {
                throw new ProtocolException($"MESSAGE_REF announces region {id}; the next new region must be {_lastId + 1}.");
            }

            if (_regions.Count >= OutgoingRegions.MaxRegions)
            {
                throw new ProtocolException($"MESSAGE_REF announces region {id} while {_regions.Count} are mapped; a peer has at most {OutgoingRegions.MaxRegions}.");
            }

            if (size < 4096 || size % 4096 != 0 || size > int.MaxValue || _mapped + size > Limit)
            {
                throw new ProtocolException($"MESSAGE_REF announces a region of {size} bytes; this side maps whole pages, at most {Limit} bytes in all ({_mapped} mapped now).");
            }

            _lastId = id;
        }

        if (!_channel.TryReceiveDescriptor(out var descriptor))
        {
            throw new ProtocolException($"MESSAGE_REF announces region {id}, but no descriptor came with it.");
        }

        using (descriptor)
        {
            try
            {
                Check(id, size, descriptor);
            }
            catch (IOException ex)
            {
                throw new ProtocolException($"Region {id}'s descriptor cannot be examined: {ex.Message}");
            }

            var address = RegionNative.MapReadOnly(descriptor, size);
            var region = new IncomingRegion(this, id, address, (int)size);
            lock (_lock)
            {
                if (!_disposed)
                {
                    _regions.Add(id, region);
                    _mapped += size;
                    return region;
                }
            }

            Unmap(region);
            throw new ProtocolException("A region arrived after the connection closed.");
        }
    }

    private static void Check(uint id, long size, Microsoft.Win32.SafeHandles.SafeFileHandle descriptor)
    {
        var status = FileStatus.OfHandle(descriptor);
        if (!status.IsRegularFile || status.Size != size)
        {
            throw new ProtocolException($"Region {id}'s descriptor is not a regular file of {size} bytes (type 0x{status.Type:x}, {status.Size} bytes).");
        }

        // Unsealed, the peer could shrink the file under the mapping and fault this process (SIGBUS).
        if ((ShmNative.GetSeals((int)descriptor.DangerousGetHandle()) & ShmNative.SealShrink) == 0)
        {
            throw new ProtocolException($"Region {id}'s descriptor is not sealed against shrinking.");
        }
    }

    private static unsafe void Unmap(IncomingRegion region) => RegionNative.Unmap(region.Address, region.Size);
}
