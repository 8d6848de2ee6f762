using Microsoft.Win32.SafeHandles;

namespace Rpc.Transports.Protocol.Mapping;

/// <summary>
/// A sealed memfd this side mapped to send large messages through: one message at a time, from the
/// writer's copy until the peer's REGION_RELEASE. Fields are guarded by <see cref="OutgoingRegions"/>'s lock.
/// </summary>
/// <remarks>
/// A memory manager too, so a serializer can write a message straight into it and the stream can
/// tell (<c>MemoryMarshal.TryGetMemoryManager</c>) that a message already lies in a region.
/// </remarks>
internal sealed unsafe class OutgoingRegion : MappedMemory
{
    public OutgoingRegion(OutgoingRegions owner, SafeFileHandle descriptor, byte* address, int size)
        : base(address, size)
    {
        Owner = owner;
        PendingDescriptor = descriptor;
    }

    public OutgoingRegions Owner { get; }

    /// <summary>Counts acquisitions, so a late abandon of an old one cannot free a newer one.</summary>
    public int Acquisition { get; set; }

    /// <summary>The id the peer knows it by; 0 until its descriptor was sent.</summary>
    public uint Id { get; set; }

    /// <summary>The descriptor, until it goes to the peer with the region's first reference.</summary>
    public SafeFileHandle? PendingDescriptor { get; set; }

    /// <summary>Holds a message the peer has not released yet (or one being written).</summary>
    public bool InUse { get; set; }

    /// <summary>A writer is still copying into it: the mapping must stay until it is done.</summary>
    public bool Writing { get; set; }

    /// <summary>Where the writer copies a message of <paramref name="length"/> bytes.</summary>
    public Span<byte> GetSpan(int length) => new(Address, length);
}
