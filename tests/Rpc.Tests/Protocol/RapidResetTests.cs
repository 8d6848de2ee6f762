using System.Buffers;
using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Issue 8 item 7 (CVE-2023-44487): a peer that resets streams as fast as it opens them is closed; one that cancels is not.</summary>
public sealed class RapidResetTests
{
    private static readonly Status Cancelled = new(StatusCode.Cancelled, "cancelled");

    [Fact]
    public async Task HeadersCancelPairs_BeyondBudget_ConnectionClosedWithGoAway()
    {
        var clock = new ManualClock();
        await using var peer = await RawProtocolPeer.StartAsync(new ConnectionOptions { TimeProvider = clock });

        // Simulated time stands still: the burst is all the peer gets. Far more pairs than it go out.
        await peer.SendAsync(w =>
        {
            for (uint i = 0; i < 5_000; i++)
            {
                var id = (2 * i) + 1;
                FrameWriter.WriteCallStart(w, id, "/s/m", CallStart.NoTimeout, null);
                FrameWriter.WriteCancel(w, id, Cancelled);
            }
        });

        var goAway = await peer.ReadUntilAsync(FrameType.GoAway);
        Assert.NotNull(goAway);
        var payload = PayloadCodec.ReadGoAway(new ReadOnlySequence<byte>(goAway.Value.Payload));
        Assert.Equal(StatusCode.Internal, payload.Status.StatusCode);
        Assert.Contains("Too many stream resets", payload.Status.Detail, StringComparison.Ordinal);
        await peer.Server.Closed.DefaultTimeout();
        Assert.Null(await peer.ReadUntilAsync(FrameType.Settings));
    }

    [Fact]
    public async Task RefusedStreams_BeyondBudget_ConnectionClosedWithGoAway()
    {
        // A peer that opens streams past the limit and never waits: each refusal is a reset too.
        var clock = new ManualClock();
        var options = new ConnectionOptions { TimeProvider = clock, Settings = new ConnectionSettings { MaxConcurrentStreams = 1 } };
        await using var peer = await RawProtocolPeer.StartAsync(options);
        await peer.SendAsync(w =>
        {
            for (uint i = 0; i < 3_000; i++)
            {
                FrameWriter.WriteCallStart(w, (2 * i) + 1, "/s/m", CallStart.NoTimeout, null);
            }
        });

        var goAway = await peer.ReadUntilAsync(FrameType.GoAway);
        Assert.NotNull(goAway);
        Assert.Contains("Too many stream resets", PayloadCodec.ReadGoAway(new ReadOnlySequence<byte>(goAway.Value.Payload)).Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResetAsync_10000CallsCancelledOneAtATimeOverAMinute_ConnectionKept()
    {
        // An honest client: each call reaches the server's handler, then the user cancels it.
        // 10,000 in a simulated minute is 167 a second, a third of the sustained budget.
        var clock = new ManualClock();
        var options = new ConnectionOptions { TimeProvider = clock };
        await using var pair = await ConnectionPair.StartAsync(options);
        for (var i = 0; i < 10_000; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(6));
            var stream = pair.Client.CreateStream();
            await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
            var serverStream = await pair.Calls.NextAsync();
            await stream.ResetAsync(Cancelled).DefaultTimeout();
            // The PING's answer comes after the server read the CANCEL written before it.
            await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
            Assert.True(serverStream.IsClosed);
        }

        await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.True(pair.Client.AcceptsNewCalls);
        Assert.Equal(ConnectionState.Open, pair.Server.State);
    }

    [Fact]
    public async Task ResetAsync_BurstOfCancelsAtOnce_WithinBurstConnectionKept()
    {
        // A deadline shared by many calls: 900 cancels in the same instant fit the burst.
        var clock = new ManualClock();
        await using var pair = await ConnectionPair.StartAsync(new ConnectionOptions { TimeProvider = clock, Settings = new ConnectionSettings { MaxConcurrentStreams = 1000 } });
        var streams = new List<CallStream>();
        for (var i = 0; i < 900; i++)
        {
            var stream = pair.Client.CreateStream();
            await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
            streams.Add(stream);
        }

        for (var i = 0; i < 900; i++)
        {
            await pair.Calls.NextAsync();
        }

        await Task.WhenAll(streams.Select(s => s.ResetAsync(Cancelled).AsTask())).DefaultTimeout();
        await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
        await ConnectionPair.WaitUntil(() => pair.Server.ActiveStreamCount == 0, "the server hearing every CANCEL");
        Assert.Equal(ConnectionState.Open, pair.Server.State);
        Assert.True(pair.Client.AcceptsNewCalls);
    }
}
