using System.Buffers;
using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Issue 8 item 8: a header list is bounded per call, on receive before decoding and on send before writing.</summary>
public sealed class HeaderListLimitTests
{
    private const int SmallLimit = ConnectionSettings.MinHeaderListSize;

    private static ConnectionOptions SmallLists => new() { Settings = new ConnectionSettings { MaxHeaderListSize = SmallLimit } };

    /// <summary>Many tiny entries: a small frame whose decoded form is many times its size.</summary>
    private static Metadata Tiny(int count)
    {
        var headers = new Metadata();
        for (var i = 0; i < count; i++)
        {
            headers.Add("a", string.Empty);
        }

        return headers;
    }

    [Fact]
    public void Read_70000TinyEntries_ThrowsBeforeBuildingThem()
    {
        // 65,535 entries in 458 KB: the limit is met by bytes, before a single entry is decoded.
        var tooLarge = Assert.Throws<HeaderListTooLargeException>(() => Decode(Tiny(65_535), ConnectionSettings.DefaultMaxHeaderListSize));
        Assert.Equal(ConnectionSettings.DefaultMaxHeaderListSize, tooLarge.Limit);

        // Within the byte bound, entries are counted as they are read: one past the limit stops it.
        var fits = SmallLimit / (1 + MetadataCodec.EntryOverhead);
        Assert.Throws<HeaderListTooLargeException>(() => Decode(Tiny(fits + 1), SmallLimit));
        Assert.Equal(fits, Decode(Tiny(fits), SmallLimit).Count);
    }

    private static Metadata Decode(Metadata headers, int limit)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WriteResponseHeaders(writer, 1, headers);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(writer.WrittenMemory[FrameHeader.Size..]));
        return MetadataCodec.Read(ref reader, limit);
    }

    [Fact]
    public async Task Settings_MaxHeaderListSize_ReachesPeer()
    {
        await using var pair = await ConnectionPair.StartAsync(new ConnectionOptions(), SmallLists);
        Assert.Equal(SmallLimit, pair.Client.PeerSettings.MaxHeaderListSize);
        Assert.Equal(ConnectionSettings.DefaultMaxHeaderListSize, pair.Server.PeerSettings.MaxHeaderListSize);
    }

    [Fact]
    public async Task SendAsync_CallStartOverPeerHeaderList_FailsCallOnlyBeforeGettingAnId()
    {
        await using var pair = await ConnectionPair.StartAsync(new ConnectionOptions(), SmallLists);
        var stream = pair.Client.CreateStream();

        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout, Headers = Tiny(100) }).DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, failure.Status.StatusCode);
        Assert.Contains($"limit of {SmallLimit} bytes", failure.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("3300 bytes", failure.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0u, stream.Id);

        // No CANCEL for a stream the server never saw; the connection still carries calls.
        await stream.ResetAsync(new Status(StatusCode.Cancelled, "after")).DefaultTimeout();
        var next = pair.Client.CreateStream();
        await next.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        Assert.Equal(1u, (await pair.Calls.NextAsync()).Id);
        await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.True(pair.Client.AcceptsNewCalls);
    }

    [Fact]
    public async Task CallStart_OverLocalHeaderList_RefusedResourceExhaustedConnectionKept()
    {
        await using var peer = await RawProtocolPeer.StartAsync(SmallLists);
        await peer.SendAsync(w => FrameWriter.WriteCallStart(w, 1, "/s/m", CallStart.NoTimeout, Tiny(100)));

        var cancel = await peer.ReadUntilAsync(FrameType.Cancel);
        Assert.NotNull(cancel);
        Assert.Equal(1u, cancel.Value.Header.StreamId);
        var status = PayloadCodec.ReadCancel(new ReadOnlySequence<byte>(cancel.Value.Payload));
        Assert.Equal(StatusCode.ResourceExhausted, status.StatusCode);
        Assert.Equal(0, peer.Server.ActiveStreamCount);

        // The connection goes on: the next call is accepted.
        await peer.SendAsync(w => FrameWriter.WriteCallStart(w, 3, "/s/m", CallStart.NoTimeout, Tiny(10)));
        Assert.Equal(3u, (await peer.Calls.NextAsync()).Id);
        Assert.Equal(ConnectionState.Open, peer.Server.State);
    }

    [Fact]
    public async Task ResponseHeadersOverClientLimit_FailCallResourceExhaustedConnectionKept()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallLists, new ConnectionOptions());
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        var serverStream = await pair.Calls.NextAsync();

        // Written raw: an honest server checks the client's setting first (the next test).
        await pair.Server.WriteAsync(serverStream.Id, static (w, id) => FrameWriter.WriteResponseHeaders(w, id, Tiny(100))).DefaultTimeout();
        var seen = await Assert.ThrowsAsync<StreamResetException>(() => stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, seen.Status.StatusCode);
        await ConnectionPair.WaitUntil(() => serverStream.IsClosed, "the server hearing the CANCEL");
        await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.True(pair.Client.AcceptsNewCalls);
    }

    [Fact]
    public async Task TrailersOverClientLimit_EndCallInternal()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallLists, new ConnectionOptions());
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        var serverStream = await pair.Calls.NextAsync();

        await pair.Server.WriteAsync(serverStream.Id, static (w, id) => FrameWriter.WriteTrailers(w, id, Status.DefaultSuccess, Tiny(100))).DefaultTimeout();
        Assert.Null(await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Internal, stream.Trailers!.Value.Status.StatusCode);
        Assert.True(pair.Client.AcceptsNewCalls);
    }

    [Fact]
    public async Task SendAsync_ResponseHeadersAndTrailersOverPeerHeaderList_FailOnlyThatCall()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallLists, new ConnectionOptions());
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        var serverStream = await pair.Calls.NextAsync();
        var failure = await Assert.ThrowsAsync<StreamResetException>(() => serverStream.SendAsync(new OutgoingFrames { SendHeaders = true, Headers = Tiny(100) }).DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, failure.Status.StatusCode);
        Assert.Contains($"limit of {SmallLimit} bytes", failure.Status.Detail, StringComparison.Ordinal);

        var second = pair.Client.CreateStream();
        await second.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        var secondServer = await pair.Calls.NextAsync();
        await secondServer.SendAsync(new OutgoingFrames { TrailersStatus = Status.DefaultSuccess, Trailers = Tiny(100) }).DefaultTimeout();
        Assert.Null(await second.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Internal, second.Trailers!.Value.Status.StatusCode);
        Assert.Contains("header list limit", second.Trailers!.Value.Status.Detail, StringComparison.Ordinal);
    }
}
