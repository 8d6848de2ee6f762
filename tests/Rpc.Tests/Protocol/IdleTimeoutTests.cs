using System.Buffers;
using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Issue 8 item 19: a connection with no open stream for IdleTimeout closes with GOAWAY; one in use does not.</summary>
public sealed class IdleTimeoutTests
{
    private static readonly TimeSpan Idle = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task IdleTimeout_NoOpenStream_ClosedWithGoAway()
    {
        await using var peer = await RawProtocolPeer.StartAsync(new ConnectionOptions { IdleTimeout = Idle });

        var goAway = await peer.ReadUntilAsync(FrameType.GoAway);
        Assert.NotNull(goAway);
        Assert.Contains("idle", PayloadCodec.ReadGoAway(new ReadOnlySequence<byte>(goAway.Value.Payload)).Status.Detail, StringComparison.Ordinal);
        await peer.Server.Closed.DefaultTimeout();
    }

    [Fact]
    public async Task IdleTimeout_StreamOpenManyPeriods_ConnectionKept()
    {
        // Long enough that the call start reaches the server (two idle ticks) even on a loaded machine.
        var idle = TimeSpan.FromMilliseconds(500);
        await using var pair = await ConnectionPair.StartAsync(serverOptions: new ConnectionOptions { IdleTimeout = idle });
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        var serverStream = await pair.Calls.NextAsync();

        // Eight periods with the call open: the server must not call that idle.
        for (var i = 0; i < 8; i++)
        {
            await Task.Delay(idle);
            await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
        }

        Assert.Equal(ConnectionState.Open, pair.Server.State);
        Assert.False(serverStream.IsClosed);

        // Once the call ends, the connection is idle and goes.
        await serverStream.SendAsync(new OutgoingFrames { TrailersStatus = Status.DefaultSuccess }).DefaultTimeout();
        await pair.Server.Closed.DefaultTimeout();
        await pair.Client.Closed.DefaultTimeout();
        Assert.False(pair.Client.AcceptsNewCalls);
    }

    [Fact]
    public async Task IdleTimeout_Default_IsOff()
    {
        Assert.Equal(Timeout.InfiniteTimeSpan, new ConnectionOptions().IdleTimeout);
        await using var pair = await ConnectionPair.StartAsync();
        await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.Equal(ConnectionState.Open, pair.Server.State);
    }
}
