using System.Buffers;

namespace Rpc.Transports.Internal;

/// <summary>
/// Memory over a block this process mapped and keeps mapped for longer than any reader holds it
/// (a shared ring), so that the protocol can read bytes where they lie.
/// </summary>
internal sealed unsafe class NativeMemory : MemoryManager<byte>
{
    private readonly byte* _pointer;
    private readonly int _length;

    public NativeMemory(byte* pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    // Native memory never moves: pinning is free.
    public override MemoryHandle Pin(int elementIndex = 0) =>
        (uint)elementIndex <= (uint)_length ? new MemoryHandle(_pointer + elementIndex) : throw new ArgumentOutOfRangeException(nameof(elementIndex));

    public override void Unpin()
    {
    }

    // The mapping's owner unmaps it, after every reader is done.
    protected override void Dispose(bool disposing)
    {
    }
}
