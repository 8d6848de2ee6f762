using System.Buffers;
using Rpc.Transports.Messages;

namespace Rpc.Transports.Compression;

/// <summary>
/// A write-only stream into a pooled array, for a compressor's output: the array leaves as a
/// <see cref="SerializedMessage"/> its sender releases. Its size is what the compressor writes,
/// which for a message this side serialized is bounded by the send limit (plus the encoding's
/// few bytes of overhead).
/// </summary>
internal sealed class PooledBufferStream : Stream
{
    private byte[]? _buffer;
    private int _written;

    public PooledBufferStream(int initialCapacity) => _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 256));

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _written;

    public override long Position
    {
        get => _written;
        set => throw new NotSupportedException();
    }

    /// <summary>Hands the written bytes over; the stream holds nothing afterwards.</summary>
    public SerializedMessage Detach()
    {
        var buffer = _buffer ?? throw new ObjectDisposedException(nameof(PooledBufferStream));
        _buffer = null;
        return new SerializedMessage(buffer.AsMemory(0, _written), rented: buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var target = _buffer ?? throw new ObjectDisposedException(nameof(PooledBufferStream));
        if (target.Length - _written < buffer.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max((long)_written + buffer.Length, 2L * target.Length)));
            target.AsSpan(0, _written).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(target);
            _buffer = target = grown;
        }

        buffer.CopyTo(target.AsSpan(_written));
        _written += buffer.Length;
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }

        base.Dispose(disposing);
    }
}
