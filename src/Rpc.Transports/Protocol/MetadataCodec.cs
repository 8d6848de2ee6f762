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
    /// <summary>
    /// What each entry costs beyond its key and value bytes when a header list is measured against
    /// <see cref="ConnectionSettings.MaxHeaderListSize"/>: HTTP/2's 32, close to what one decoded
    /// entry (its object, its strings' headers, its list slot) costs in memory, so a list of many
    /// tiny entries is as bounded as one big one.
    /// </summary>
    public const int EntryOverhead = 32;

    /// <summary>
    /// The key of the first text entry whose value the wire cannot carry (text values are printable
    /// ASCII, as in gRPC over HTTP/2), or null. Sent as is it would turn into '?' on the wire; like
    /// grpc-dotnet, the sender fails the call instead.
    /// </summary>
    public static string? FindUnprintableValue(Metadata? metadata)
    {
        if (metadata is null)
        {
            return null;
        }

        foreach (var entry in metadata)
        {
            if (!entry.IsBinary && entry.Value.AsSpan().ContainsAnyExceptInRange((char)0x20, (char)0x7E))
            {
                return entry.Key;
            }
        }

        return null;
    }

    /// <summary>The header-list size of <paramref name="metadata"/> as the peer's limit counts it.</summary>
    public static long GetListSize(Metadata? metadata)
    {
        long size = 0;
        if (metadata is null)
        {
            return size;
        }

        foreach (var entry in metadata)
        {
            size += entry.Key.Length + (entry.IsBinary ? entry.ValueBytes.Length : entry.Value.Length) + EntryOverhead;
        }

        return size;
    }

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

    /// <summary>
    /// Decodes a header list. Over <paramref name="maxListSize"/> it throws
    /// <see cref="HeaderListTooLargeException"/> before anything is decoded when the bytes alone are
    /// too many, else as soon as the entries read so far are: never holding more than the limit.
    /// </summary>
    public static Metadata Read(ref SequenceReader<byte> reader, int maxListSize = int.MaxValue)
    {
        // The wire costs each entry 6 bytes of lengths, less than EntryOverhead, so bytes past the
        // limit (less the count) are a list past it too, whatever they hold.
        if (reader.Remaining - 2 > maxListSize)
        {
            throw new HeaderListTooLargeException(reader.Remaining - 2, maxListSize);
        }

        var count = PayloadCodec.ReadUInt16(ref reader, "metadata count");
        if (count == 0)
        {
            // The common case; a read-only instance, so nothing is allocated for it.
            return Metadata.Empty;
        }

        var metadata = new Metadata();
        long listSize = 0;
        for (var i = 0; i < count; i++)
        {
            var keyLength = PayloadCodec.ReadUInt16(ref reader, "metadata key length");
            if (keyLength > reader.Remaining)
            {
                throw new ProtocolException($"Metadata key of {keyLength} bytes runs past the end of its frame.");
            }

            // Counted before the key is decoded: the entry that would pass the limit is never built.
            listSize += keyLength + EntryOverhead;
            if (listSize > maxListSize)
            {
                throw new HeaderListTooLargeException(listSize, maxListSize);
            }

            var key = PayloadCodec.ReadAscii(ref reader, keyLength, "metadata key");
            var valueLength = PayloadCodec.ReadUInt32(ref reader, "metadata value length");
            if (valueLength > reader.Remaining)
            {
                throw new ProtocolException($"Metadata value of {valueLength} bytes for '{key}' runs past the end of its frame.");
            }

            listSize += valueLength;
            if (listSize > maxListSize)
            {
                throw new HeaderListTooLargeException(listSize, maxListSize);
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

/// <summary>A received header list over this side's <see cref="ConnectionSettings.MaxHeaderListSize"/>: fails its call, not the connection.</summary>
internal sealed class HeaderListTooLargeException(long size, int limit)
    : Exception($"Header list of at least {size} bytes exceeds the limit of {limit} bytes.")
{
    public long Size { get; } = size;

    public int Limit { get; } = limit;
}
