using System.Buffers;

namespace Rpc.Transports.Protocol;

/// <summary>
/// A whole received message in a pooled array. Whoever takes it from the stream returns the array
/// with <see cref="Release"/> once it is deserialized.
/// </summary>
internal readonly struct IncomingMessage
{
    public IncomingMessage(byte[] buffer, int length)
    {
        Buffer = buffer;
        Length = length;
    }

    public byte[] Buffer { get; }

    public int Length { get; }

    public ReadOnlySequence<byte> Payload => new(Buffer, 0, Length);

    public void Release() => ArrayPool<byte>.Shared.Return(Buffer);
}
