using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Grpc.Core;

namespace Rpc.Transports.Protocol;

/// <summary>
/// Metadata on the wire: count (u16), then per entry key length (u16), ASCII key, value length (u32),
/// value bytes. Binary (<c>-bin</c>) values travel raw.
/// </summary>
internal static class MetadataCodec
{
    public static int GetSize(Metadata? metadata)
    {
        var size = 2;
        if (metadata is null)
        {
            return size;
        }

        foreach (var entry in metadata)
        {
            size += 2 + entry.Key.Length + 4 + (entry.IsBinary ? entry.ValueBytes.Length : entry.Value.Length);
        }

        return size;
    }

    public static int Write(Span<byte> destination, Metadata? metadata)
    {
        var count = metadata?.Count ?? 0;
        if (count > ushort.MaxValue)
        {
            throw new InvalidOperationException($"Metadata has {count} entries; at most {ushort.MaxValue} fit in a frame.");
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)count);
        var written = 2;
        if (metadata is null)
        {
            return written;
        }

        foreach (var entry in metadata)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[written..], (ushort)entry.Key.Length);
            written += 2;
            written += Encoding.ASCII.GetBytes(entry.Key, destination[written..]);
            if (entry.IsBinary)
            {
                var value = entry.ValueBytes;
                BinaryPrimitives.WriteUInt32BigEndian(destination[written..], (uint)value.Length);
                written += 4;
                value.CopyTo(destination[written..]);
                written += value.Length;
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(destination[written..], (uint)entry.Value.Length);
                written += 4;
                written += Encoding.ASCII.GetBytes(entry.Value, destination[written..]);
            }
        }

        return written;
    }

    public static Metadata Read(ref SequenceReader<byte> reader)
    {
        var count = PayloadCodec.ReadUInt16(ref reader, "metadata count");
        if (count == 0)
        {
            // The common case; a read-only instance, so nothing is allocated for it.
            return Metadata.Empty;
        }

        var metadata = new Metadata();
        for (var i = 0; i < count; i++)
        {
            var keyLength = PayloadCodec.ReadUInt16(ref reader, "metadata key length");
            var key = PayloadCodec.ReadAscii(ref reader, keyLength, "metadata key");
            var valueLength = PayloadCodec.ReadUInt32(ref reader, "metadata value length");
            if (valueLength > reader.Remaining)
            {
                throw new ProtocolException($"Metadata value of {valueLength} bytes for '{key}' runs past the end of its frame.");
            }

            try
            {
                if (key.EndsWith(Metadata.BinaryHeaderSuffix, StringComparison.Ordinal))
                {
                    var value = new byte[valueLength];
                    reader.TryCopyTo(value);
                    reader.Advance(valueLength);
                    metadata.Add(key, value);
                }
                else
                {
                    metadata.Add(key, PayloadCodec.ReadAscii(ref reader, (int)valueLength, "metadata value"));
                }
            }
            catch (ArgumentException ex)
            {
                throw new ProtocolException($"Invalid metadata entry '{key}': {ex.Message}", ex);
            }
        }

        return metadata;
    }
}
