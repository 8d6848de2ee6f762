using System.Buffers;

namespace Rpc.Transports.Protocol;

/// <summary>
/// A whole received message in a pooled array. Whoever takes it from the stream returns the array
/// with <see cref="Release"/> once it is deserialized.
/// </summary>
internal readonly struct IncomingMessage
{
    public IncomingMessage(byte[] buffer, int length, bool compressed = false)
    {
        Buffer = buffer;
        Length = length;
        Compressed = compressed;
    }

    public byte[] Buffer { get; }

    public int Length { get; }

    /// <summary>Whether the sender compressed it (the COMPRESSED flag): it must be decompressed before it is deserialized.</summary>
    public bool Compressed { get; }

    public ReadOnlySequence<byte> Payload => new(Buffer, 0, Length);

    public void Release() => ArrayPool<byte>.Shared.Return(Buffer);
}
