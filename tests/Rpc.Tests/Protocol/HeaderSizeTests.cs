using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Headers or trailers too big for the peer's frame size fail only their own call.</summary>
public sealed class HeaderSizeTests
{
    private static readonly ConnectionOptions SmallFrames = new() { Settings = new ConnectionSettings { MaxFrameSize = ConnectionSettings.MinFrameSize } };

    private static Metadata Big => new() { { "big", new string('x', 2 * ConnectionSettings.MinFrameSize) } };

    [Fact]
    public async Task SendAsync_CallStartHeadersOverPeerFrameSize_FailsCallOnlyWithResourceExhausted()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallFrames);
        var stream = pair.Client.CreateStream();

        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout, Headers = Big }).DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, failure.Status.StatusCode);
        Assert.Contains($"limit of {ConnectionSettings.MinFrameSize} bytes", failure.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0u, stream.Id);

        // A reset of the failed call sends nothing; the connection still carries calls.
        await stream.ResetAsync(new Status(StatusCode.Cancelled, "after")).DefaultTimeout();
        await AssertStillCarriesCallsAsync(pair);
    }

    [Fact]
    public async Task SendAsync_MethodPathOverLimit_FailsCallOnlyBeforeGettingAnId()
    {
        await using var pair = await ConnectionPair.StartAsync(new ConnectionOptions());
        var stream = pair.Client.CreateStream();
        var path = "/s/" + new string('m', PayloadCodec.MaxMethodLength);

        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.SendAsync(new OutgoingFrames { Method = path, TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout());
        Assert.Equal(StatusCode.Internal, failure.Status.StatusCode);
        Assert.Equal(0u, stream.Id);

        // Its reset sends no CANCEL for a stream the server never saw, so the connection carries on.
        await stream.ResetAsync(new Status(StatusCode.Cancelled, "after")).DefaultTimeout();
        await AssertStillCarriesCallsAsync(pair);
    }

    [Fact]
    public async Task SendAsync_ResponseHeadersOverPeerFrameSize_ClientSeesResourceExhausted()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallFrames);
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        var serverStream = await pair.Calls.NextAsync();

        var failure = await Assert.ThrowsAsync<StreamResetException>(() => serverStream.SendAsync(new OutgoingFrames { SendHeaders = true, Headers = Big }).DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, failure.Status.StatusCode);
        var seen = await Assert.ThrowsAsync<StreamResetException>(() => stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.ResourceExhausted, seen.Status.StatusCode);
        Assert.True(pair.Client.AcceptsNewCalls);
    }

    [Fact]
    public async Task SendAsync_TrailersOverPeerFrameSize_ClientGetsInternalTrailers()
    {
        await using var pair = await ConnectionPair.StartAsync(SmallFrames);
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        var serverStream = await pair.Calls.NextAsync();

        await serverStream.SendAsync(new OutgoingFrames { TrailersStatus = Status.DefaultSuccess, Trailers = Big }).DefaultTimeout();
        Assert.Null(await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Internal, stream.Trailers!.Value.Status.StatusCode);
        Assert.True(pair.Client.AcceptsNewCalls);
    }

    /// <summary>The failed call cost nothing else: a new call reaches the server and the connection answers.</summary>
    private static async Task AssertStillCarriesCallsAsync(ConnectionPair pair)
    {
        var next = pair.Client.CreateStream();
        await next.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        await pair.Calls.NextAsync();
        await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.True(pair.Client.AcceptsNewCalls);
    }
}
