using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Keepalive pings find a peer that stopped answering, and leave a live one alone.</summary>
public sealed class KeepAliveTests
{
    private static readonly ConnectionOptions KeepAlive = new()
    {
        KeepAlivePingDelay = TimeSpan.FromMilliseconds(50),
        KeepAlivePingTimeout = TimeSpan.FromMilliseconds(200),
    };

    [Fact]
    public async Task Server_PeerNeverAnswersPings_ConnectionClosedNamingKeepalive()
    {
        await using var peer = await RawProtocolPeer.StartAsync(KeepAlive);

        // The raw peer reads but never acks: the server pings, then gives up on it.
        var ping = await peer.ReadUntilAsync(FrameType.Ping);
        Assert.NotNull(ping);
        Assert.Equal(0, ping.Value.Header.Flags);
        await peer.Server.Closed.DefaultTimeout();
    }

    [Fact]
    public async Task Client_ServerStopsAnswering_CallsFailUnavailableNamingKeepalive()
    {
        await using var pair = await ConnectionPair.StartAsync(options: KeepAlive, serverOptions: new ConnectionOptions());
        var stream = pair.Client.CreateStream();
        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout }).DefaultTimeout();
        await pair.Calls.NextAsync();

        // The server's read loop stops: it neither acks pings nor sends anything.
        pair.Server.Close();

        var failure = await Assert.ThrowsAsync<StreamResetException>(() => stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
        Assert.Equal(StatusCode.Unavailable, failure.Status.StatusCode);
        await pair.Client.Closed.DefaultTimeout();
    }

    [Fact]
    public async Task BothSides_PeerAlive_ConnectionStaysOpenAcrossManyPingPeriods()
    {
        // A timeout far above any scheduling delay on a loaded machine: only a missing ack may close.
        var options = new ConnectionOptions { KeepAlivePingDelay = TimeSpan.FromMilliseconds(20), KeepAlivePingTimeout = TimeSpan.FromSeconds(10) };
        await using var pair = await ConnectionPair.StartAsync(options);

        // Fifty ping periods with no call: every ping is answered, nothing closes.
        await Task.Delay(TimeSpan.FromMilliseconds(1000));
        Assert.Equal(ConnectionState.Open, pair.Client.State);
        Assert.Equal(ConnectionState.Open, pair.Server.State);
    }
}
