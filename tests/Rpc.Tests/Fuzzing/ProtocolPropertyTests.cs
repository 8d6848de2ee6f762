using System.Buffers;
using System.Buffers.Binary;
using CsCheck;
using Grpc.Core;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Fuzzing;

/// <summary>
/// Property tests of the protocol's decoders (issue 8, "Fuzzing"): arbitrary bytes end only in
/// <see cref="ProtocolException"/> or "need more", and every frame type round-trips exactly,
/// however the bytes are split into buffer segments.
/// </summary>
public sealed class ProtocolPropertyTests
{
    private const long Iterations = 2_000;

    private static readonly Gen<byte[]> AnyBytes = Gen.Byte.Array[0, 512];

    /// <summary>Frames whose header fields are random but plausible, so payload parsers get reached.</summary>
    private static readonly Gen<byte[]> PlausibleFrames =
        Gen.Select(Gen.Byte[0, 9], Gen.Byte[0, 3], Gen.UInt[0, 4], Gen.Byte.Array[0, 80])
            .Select((type, flags, stream, payload) =>
            {
                var frame = new byte[FrameHeader.Size + payload.Length];
                BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
                frame[4] = type;
                frame[5] = flags;
                BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(6), stream);
                payload.CopyTo(frame, FrameHeader.Size);
                return frame;
            })
            .Array[1, 6]
            .Select(frames => frames.SelectMany(f => f).ToArray());

    private static readonly Gen<string> Key =
        Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789-_."].Array[1, 16].Select(chars => new string(chars));

    private static readonly Gen<string> PrintableAscii =
        Gen.Char[' ', '~'].Array[0, 40].Select(chars => new string(chars));

    /// <summary>Valid metadata: lower-case keys, printable ASCII text values, raw bytes under -bin keys.</summary>
    private static readonly Gen<Metadata> ValidMetadata =
        Gen.Select(Key, Gen.Bool, PrintableAscii, Gen.Byte.Array[0, 40])
            .Array[0, 12]
            .Select(entries =>
            {
                var metadata = new Metadata();
                foreach (var (key, binary, text, bytes) in entries)
                {
                    if (binary)
                    {
                        metadata.Add(key + "-bin", bytes);
                    }
                    else
                    {
                        metadata.Add(key.EndsWith("-bin", StringComparison.Ordinal) ? key + "x" : key, text);
                    }
                }

                return metadata;
            });

    /// <summary>Status details with non-ASCII text too: they travel as UTF-8.</summary>
    private static readonly Gen<Status> AnyStatus =
        Gen.Select(Gen.Int[0, 16], Gen.Char[" abcxyz0129éü€ßø中"].Array[0, 30])
            .Select((code, detail) => new Status((StatusCode)code, new string(detail)));

    private static readonly Gen<uint> StreamId = Gen.UInt[1, uint.MaxValue];

    private static readonly Gen<byte> Cut = Gen.Byte;

    [Fact]
    public void TryReadFrame_ArbitraryBytes_OnlyProtocolExceptionOrNeedMore() =>
        AnyBytes.Sample(bytes => FuzzTargets.Frames(bytes), iter: Iterations);

    [Fact]
    public void TryReadFrame_PlausibleFrames_OnlyProtocolExceptionOrNeedMore() =>
        Gen.Select(Cut, PlausibleFrames).Sample((cut, frames) => FuzzTargets.Frames([cut, .. frames]), iter: Iterations);

    [Fact]
    public void TryReadFrame_TruncatedValidFrame_NeedsMoreWithoutConsuming() =>
        Gen.Select(StreamId, Gen.Byte.Array[0, 300], Cut).Sample((id, body, cut) =>
        {
            var frame = Write(w => FrameWriter.WriteMessage(w, id, body, FrameFlags.EndMessage));
            var buffer = FuzzTargets.Split(frame.AsSpan(0, cut % frame.Length), cut);
            var before = buffer.Length;
            return !FrameReader.TryReadFrame(ref buffer, 64 * 1024, out _, out _) && buffer.Length == before;
        }, iter: Iterations);

    [Fact]
    // Exact up to the documented maximum timeout; beyond it the reader clamps (docs/protocol.md).
    public void CallStart_RoundTripsExactly() =>
        Gen.Select(StreamId, Gen.Char["abcXYZ09._/é"].Array[0, 40], Gen.Long[-1, long.MaxValue], ValidMetadata, Cut)
            .Sample((id, path, timeout, headers, cut) =>
            {
                var method = "/" + new string(path);
                var (header, payload) = ReadBack(w => FrameWriter.WriteCallStart(w, id, method, timeout, headers), cut);
                var start = PayloadCodec.ReadCallStart(payload);
                return header == new FrameHeader(header.Length, FrameType.Headers, 0, id)
                    && start.Method == method && start.TimeoutMicroseconds == Math.Min(timeout, CallStart.MaxTimeoutMicroseconds) && FuzzTargets.SameEntries(headers, start.Headers);
            }, iter: Iterations);

    [Fact]
    public void ResponseHeaders_RoundTripExactly() =>
        Gen.Select(StreamId, ValidMetadata, Cut).Sample((id, headers, cut) =>
        {
            var (header, payload) = ReadBack(w => FrameWriter.WriteResponseHeaders(w, id, headers), cut);
            return header.Type == FrameType.Headers && header.StreamId == id && FuzzTargets.SameEntries(headers, PayloadCodec.ReadResponseHeaders(payload));
        }, iter: Iterations);

    [Fact]
    public void Message_RoundTripsExactly() =>
        Gen.Select(StreamId, Gen.Byte.Array[0, 2000], Gen.OneOf(Gen.Const(FrameFlags.None), Gen.Const(FrameFlags.EndMessage), Gen.Const((byte)(FrameFlags.EndMessage | FrameFlags.EndStream))), Cut)
            .Sample((id, body, flags, cut) =>
            {
                var (header, payload) = ReadBack(w => FrameWriter.WriteMessage(w, id, body, flags), cut);
                return header == new FrameHeader(body.Length, FrameType.Message, flags, id) && payload.ToArray().AsSpan().SequenceEqual(body);
            }, iter: Iterations);

    [Fact]
    public void HalfClose_RoundTripsExactly() =>
        StreamId.Sample(id =>
        {
            var (header, payload) = ReadBack(w => FrameWriter.WriteHalfClose(w, id), 0);
            return header == new FrameHeader(0, FrameType.HalfClose, 0, id) && payload.IsEmpty;
        }, iter: Iterations);

    [Fact]
    public void Trailers_RoundTripExactly() =>
        Gen.Select(StreamId, AnyStatus, ValidMetadata, Cut).Sample((id, status, trailers, cut) =>
        {
            var (header, payload) = ReadBack(w => FrameWriter.WriteTrailers(w, id, status, trailers), cut);
            var read = PayloadCodec.ReadTrailers(payload);
            return header.Type == FrameType.Trailers && header.StreamId == id && read.Status.StatusCode == status.StatusCode
                && read.Status.Detail == status.Detail && FuzzTargets.SameEntries(trailers, read.Trailers);
        }, iter: Iterations);

    [Fact]
    public void Cancel_RoundTripsExactly() =>
        Gen.Select(StreamId, AnyStatus, Cut).Sample((id, status, cut) =>
        {
            var (header, payload) = ReadBack(w => FrameWriter.WriteCancel(w, id, status), cut);
            var read = PayloadCodec.ReadCancel(payload);
            return header.Type == FrameType.Cancel && header.StreamId == id && read.StatusCode == status.StatusCode && read.Detail == status.Detail;
        }, iter: Iterations);

    [Fact]
    public void Ping_RoundTripsExactly() =>
        Gen.Select(Gen.ULong, Gen.Bool, Cut).Sample((opaque, ack, cut) =>
        {
            var (header, payload) = ReadBack(w => FrameWriter.WritePing(w, opaque, ack), cut);
            return header == new FrameHeader(PayloadCodec.PingLength, FrameType.Ping, ack ? FrameFlags.Ack : FrameFlags.None, 0) && PayloadCodec.ReadPing(payload) == opaque;
        }, iter: Iterations);

    [Fact]
    public void GoAway_RoundTripsExactly() =>
        Gen.Select(Gen.UInt, AnyStatus, Cut).Sample((lastStreamId, status, cut) =>
        {
            var (header, payload) = ReadBack(w => FrameWriter.WriteGoAway(w, lastStreamId, status), cut);
            var read = PayloadCodec.ReadGoAway(payload);
            return header.Type == FrameType.GoAway && header.StreamId == 0 && read.LastStreamId == lastStreamId
                && read.Status.StatusCode == status.StatusCode && read.Status.Detail == status.Detail;
        }, iter: Iterations);

    [Fact]
    public void WindowUpdate_RoundTripsExactly() =>
        Gen.Select(StreamId, Gen.Int[1, int.MaxValue], Cut).Sample((id, increment, cut) =>
        {
            var (header, payload) = ReadBack(w => FrameWriter.WriteWindowUpdate(w, id, increment), cut);
            return header == new FrameHeader(4, FrameType.WindowUpdate, 0, id) && PayloadCodec.ReadWindowUpdate(payload) == (uint)increment;
        }, iter: Iterations);

    [Fact]
    public void Settings_ValidValues_RoundTripExactly() =>
        Gen.Select(Gen.Int[ConnectionSettings.MinFrameSize, ConnectionSettings.MaxAllowedFrameSize], Gen.Int[ConnectionSettings.MinWindowSize, int.MaxValue], Gen.Int[1, int.MaxValue], Cut)
            .Sample((frameSize, window, streams, cut) =>
            {
                var settings = new ConnectionSettings { MaxFrameSize = frameSize, InitialWindowSize = window, MaxConcurrentStreams = streams };
                var (header, payload) = ReadBack(w => FrameWriter.WriteSettings(w, settings), cut);
                return header.Type == FrameType.Settings && ConnectionSettings.Read(payload) == settings;
            }, iter: Iterations);

    [Fact]
    public void Settings_UnknownIds_Ignored() =>
        Gen.Select(Gen.UShort[(ushort)(SettingId.MappedPayloadLimit + 1), ushort.MaxValue], Gen.UInt).Array[0, 8].Sample(unknown =>
        {
            var payload = new byte[unknown.Length * 6];
            for (var i = 0; i < unknown.Length; i++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(i * 6), unknown[i].Item1);
                BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(i * 6 + 2), unknown[i].Item2);
            }

            return ConnectionSettings.Read(new ReadOnlySequence<byte>(payload)) == new ConnectionSettings();
        }, iter: Iterations);

    [Fact]
    public void Handshake_ArbitraryBytes_OnlyProtocolException() =>
        AnyBytes.Sample(bytes => FuzzTargets.Handshake(bytes), iter: Iterations);

    [Fact]
    public void Handshake_ValidPrefaceThenArbitrarySettings_OnlyProtocolException() =>
        Gen.Select(Cut, Gen.Select(Gen.UShort[0, 5], Gen.UInt).Array[0, 8]).Sample((cut, settings) =>
        {
            var bytes = Write(w =>
            {
                Preface.Write(w);
                var span = w.GetSpan(FrameHeader.Size + settings.Length * 6);
                new FrameHeader(settings.Length * 6, FrameType.Settings, 0, 0).Write(span);
                for (var i = 0; i < settings.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(span[(FrameHeader.Size + i * 6)..], settings[i].Item1);
                    BinaryPrimitives.WriteUInt32BigEndian(span[(FrameHeader.Size + i * 6 + 2)..], settings[i].Item2);
                }

                w.Advance(FrameHeader.Size + settings.Length * 6);
            });
            FuzzTargets.Handshake([cut, .. bytes]);
        }, iter: Iterations);

    [Fact]
    public void Preface_AnythingButOurs_ProtocolException() =>
        Gen.Byte.Array[Preface.Size].Where(bytes => !bytes.AsSpan(0, 6).SequenceEqual("RPCIPC"u8)).Sample(bytes =>
        {
            Assert.Throws<ProtocolException>(() => Preface.Validate(new ReadOnlySequence<byte>(bytes)));
        }, iter: Iterations);

    [Fact]
    public void Metadata_Valid_RoundTripsExactly() =>
        Gen.Select(ValidMetadata, Cut).Sample((metadata, cut) =>
        {
            var bytes = new byte[MetadataCodec.GetSize(metadata)];
            var written = MetadataCodec.Write(bytes, metadata);
            var reader = new SequenceReader<byte>(FuzzTargets.Split(bytes, cut));
            return written == bytes.Length && FuzzTargets.SameEntries(metadata, MetadataCodec.Read(ref reader)) && reader.End;
        }, iter: Iterations);

    [Fact]
    public void Metadata_ArbitraryBytes_OnlyProtocolException() =>
        AnyBytes.Sample(bytes => FuzzTargets.Metadata(bytes), iter: Iterations);

    [Fact]
    public void Metadata_PlausibleEntries_OnlyProtocolException() =>
        Gen.Select(Gen.UShort[0, 6], Gen.Select(Gen.UShort[0, 12], Gen.Byte[0x00, 0xFF].Array[0, 12], Gen.UInt[0, 20], Gen.Byte.Array[0, 20]).Array[0, 6], Cut)
            .Sample((count, entries, cut) =>
            {
                var bytes = Write(w =>
                {
                    var header = w.GetSpan(2);
                    BinaryPrimitives.WriteUInt16BigEndian(header, count);
                    w.Advance(2);
                    foreach (var (keyLength, key, valueLength, value) in entries)
                    {
                        var span = w.GetSpan(2 + key.Length + 4 + value.Length);
                        BinaryPrimitives.WriteUInt16BigEndian(span, keyLength);
                        key.CopyTo(span[2..]);
                        BinaryPrimitives.WriteUInt32BigEndian(span[(2 + key.Length)..], valueLength);
                        value.CopyTo(span[(6 + key.Length)..]);
                        w.Advance(2 + key.Length + 4 + value.Length);
                    }
                });
                FuzzTargets.Metadata([cut, .. bytes]);
            }, iter: Iterations);

    private static byte[] Write(Action<ArrayBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Writes one frame, reads it back from two segments cut at <paramref name="cut"/>, and checks nothing is left over.</summary>
    private static (FrameHeader Header, ReadOnlySequence<byte> Payload) ReadBack(Action<ArrayBufferWriter<byte>> write, int cut)
    {
        var buffer = FuzzTargets.Split(Write(write), cut);
        Assert.True(FrameReader.TryReadFrame(ref buffer, ConnectionSettings.MaxAllowedFrameSize, out var header, out var payload));
        Assert.True(buffer.IsEmpty, $"{buffer.Length} bytes left after one frame.");
        return (header, payload);
    }
}
