using System.Buffers;

namespace Rpc.Transports.Protocol;

internal enum SettingId : ushort
{
    MaxFrameSize = 1,
    InitialWindowSize = 2,
    MaxConcurrentStreams = 3,
    MaxHeaderListSize = 4,
    ConnectionWindowSize = 5,
    MappedPayloadLimit = 6,
}

/// <summary>What one side of a connection accepts; sent in its SETTINGS frame.</summary>
internal sealed record ConnectionSettings
{
    public const int MinFrameSize = 16 * 1024;
    public const int MaxAllowedFrameSize = 16 * 1024 * 1024;
    public const int MinWindowSize = 64 * 1024;

    public int MaxFrameSize { get; init; } = 256 * 1024;

    public int InitialWindowSize { get; init; } = 1024 * 1024;

    /// <summary>
    /// Bytes all streams together may have delivered and not yet given back (stream 0's window), so
    /// that what a connection holds does not grow with its number of streams. 16 MiB: sixteen
    /// streams' full windows, where Kestrel gives HTTP/2 1 MiB, because local messages are larger.
    /// </summary>
    public int ConnectionWindowSize { get; init; } = DefaultConnectionWindowSize;

    public const int DefaultConnectionWindowSize = 16 * 1024 * 1024;

    /// <summary>Streams one connection runs at once; 100 as Kestrel's HTTP/2 default. Clients queue beyond the peer's.</summary>
    public int MaxConcurrentStreams { get; init; } = 100;

    /// <summary>
    /// The largest header list (call start, response headers, trailers) one call may carry, counted as
    /// HTTP/2 does: key and value bytes plus <see cref="MetadataCodec.EntryOverhead"/> per entry, so
    /// many tiny entries cost what they cost once decoded. 16 KiB as gRPC's default metadata limit.
    /// </summary>
    public int MaxHeaderListSize { get; init; } = DefaultMaxHeaderListSize;

    public const int DefaultMaxHeaderListSize = 16 * 1024;

    public const int MinHeaderListSize = 1024;

    /// <summary>
    /// Bytes of the peer's regions this side maps at once to receive large messages through
    /// (docs/mapped-payloads.md); 0, the default and what a medium that cannot pass descriptors
    /// says, means "send every message through the stream". The peer never makes more than this.
    /// </summary>
    public int MappedPayloadLimit { get; init; }

    public static ConnectionSettings Read(ReadOnlySequence<byte> payload)
    {
        var settings = new ConnectionSettings();
        var reader = new SequenceReader<byte>(payload);
        while (!reader.End)
        {
            var id = (SettingId)PayloadCodec.ReadUInt16(ref reader, "setting id");
            var value = PayloadCodec.ReadUInt32(ref reader, "setting value");
            settings = id switch
            {
                SettingId.MaxFrameSize => settings with { MaxFrameSize = (int)Check(id, value, MinFrameSize, MaxAllowedFrameSize) },
                SettingId.InitialWindowSize => settings with { InitialWindowSize = (int)Check(id, value, MinWindowSize, int.MaxValue) },
                SettingId.MaxConcurrentStreams => settings with { MaxConcurrentStreams = (int)Check(id, value, 1, int.MaxValue) },
                SettingId.MaxHeaderListSize => settings with { MaxHeaderListSize = (int)Check(id, value, MinHeaderListSize, MaxAllowedFrameSize) },
                SettingId.ConnectionWindowSize => settings with { ConnectionWindowSize = (int)Check(id, value, MinWindowSize, int.MaxValue) },
                SettingId.MappedPayloadLimit => settings with { MappedPayloadLimit = (int)Check(id, value, 0, int.MaxValue) },
                _ => settings, // unknown settings are ignored so later versions can add them
            };
        }

        return settings;
    }

    private static uint Check(SettingId id, uint value, uint min, uint max) =>
        value >= min && value <= max
            ? value
            : throw new ProtocolException($"Setting {id} = {value} is outside {min}..{max}.");
}
