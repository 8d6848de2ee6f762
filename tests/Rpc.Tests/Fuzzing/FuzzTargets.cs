using System.Buffers;
using Grpc.Core;
using Rpc.Transports.Protocol;

namespace Rpc.Tests.Fuzzing;

/// <summary>
/// The protocol's parsing entry points, fed arbitrary bytes. docs/protocol.md allows exactly one
/// outcome for bad input, <see cref="ProtocolException"/>; anything else escapes, which is what
/// the property tests, the corpus replay and the AFL harness (tests/Rpc.Fuzz, which compiles this
/// file too) all look for. The first input byte picks where the bytes are split into two buffer
/// segments, so payloads that straddle segments are parsed the way a socket delivers them.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Frame sizes the decoder is tried with: the protocol's floor and its default.</summary>
    private static readonly int[] MaxFrameSizes = [ConnectionSettings.MinFrameSize, 256 * 1024];

    /// <summary>Cuts frames off the bytes, as the read loop does, and parses every payload by its type.</summary>
    public static void Frames(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var buffer = Split(data[1..], data[0]);
        var maxFrameSize = MaxFrameSizes[data[0] & 1];
        try
        {
            while (FrameReader.TryReadFrame(ref buffer, maxFrameSize, out var header, out var payload))
            {
                ParsePayload(header, payload);
            }
        }
        catch (ProtocolException)
        {
            // The one documented outcome of bad bytes.
        }
    }

    /// <summary>What a connection reads first: the 8-byte preface, then one SETTINGS frame.</summary>
    public static void Handshake(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        var buffer = Split(data[1..], data[0]);
        try
        {
            if (buffer.Length < Preface.Size)
            {
                return;
            }

            Preface.Validate(buffer);
            buffer = buffer.Slice(Preface.Size);
            if (FrameReader.TryReadFrame(ref buffer, ConnectionSettings.MinFrameSize, out var header, out var payload) && header.Type == FrameType.Settings)
            {
                var settings = ConnectionSettings.Read(payload);
                Check(settings.MaxFrameSize is >= ConnectionSettings.MinFrameSize and <= ConnectionSettings.MaxAllowedFrameSize, "MaxFrameSize out of bounds was accepted");
                Check(settings.InitialWindowSize >= ConnectionSettings.MinWindowSize, "InitialWindowSize below the minimum was accepted");
                Check(settings.MaxConcurrentStreams >= 1, "MaxConcurrentStreams below 1 was accepted");
            }
        }
        catch (ProtocolException)
        {
        }
    }

    /// <summary>Decodes metadata; what decodes must encode and decode again to the same entries.</summary>
    public static void Metadata(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        Metadata decoded;
        try
        {
            var reader = new SequenceReader<byte>(Split(data[1..], data[0]));
            decoded = MetadataCodec.Read(ref reader);
        }
        catch (ProtocolException)
        {
            return;
        }

        var encoded = new byte[MetadataCodec.GetSize(decoded)];
        Check(MetadataCodec.Write(encoded, decoded) == encoded.Length, "Write wrote a size other than GetSize");
        var again = new SequenceReader<byte>(new ReadOnlySequence<byte>(encoded));
        Check(SameEntries(decoded, MetadataCodec.Read(ref again)) && again.End, "decoded metadata did not survive a round trip");
    }

    /// <summary>Whether two metadata collections hold the same entries in the same order.</summary>
    public static bool SameEntries(Metadata a, Metadata b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (a[i].Key != b[i].Key || a[i].IsBinary != b[i].IsBinary)
            {
                return false;
            }

            if (a[i].IsBinary ? !a[i].ValueBytes.AsSpan().SequenceEqual(b[i].ValueBytes) : a[i].Value != b[i].Value)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The bytes as a sequence of two segments cut at <paramref name="cut"/> (modulo the length).</summary>
    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> bytes, int cut)
    {
        if (bytes.Length < 2)
        {
            return new ReadOnlySequence<byte>(bytes.ToArray());
        }

        var at = cut % bytes.Length;
        var first = new Segment(bytes[..at].ToArray(), 0);
        var last = first.Append(bytes[at..].ToArray());
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private static void ParsePayload(FrameHeader header, ReadOnlySequence<byte> payload)
    {
        switch (header.Type)
        {
            case FrameType.Settings:
                ConnectionSettings.Read(payload);
                break;
            case FrameType.Headers:
                // The same frame type carries a call start one way and response headers the other.
                try
                {
                    PayloadCodec.ReadCallStart(payload);
                }
                catch (ProtocolException)
                {
                    PayloadCodec.ReadResponseHeaders(payload);
                }

                break;
            case FrameType.Trailers:
                PayloadCodec.ReadTrailers(payload);
                break;
            case FrameType.Cancel:
                PayloadCodec.ReadCancel(payload);
                break;
            case FrameType.Ping:
                PayloadCodec.ReadPing(payload);
                break;
            case FrameType.GoAway:
                PayloadCodec.ReadGoAway(payload);
                break;
            case FrameType.WindowUpdate:
                PayloadCodec.ReadWindowUpdate(payload);
                break;
            default:
                // MESSAGE and HALF_CLOSE payloads are opaque to the codec.
                break;
        }
    }

    /// <summary>A broken invariant is a finding, distinct from the documented ProtocolException.</summary>
    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("Fuzz invariant broken: " + what);
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
