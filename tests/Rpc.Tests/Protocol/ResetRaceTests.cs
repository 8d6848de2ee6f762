using System.Collections.Concurrent;
using Grpc.Core;
using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

/// <summary>Resets and GOAWAY racing with call starts: the server never keeps a stream the client gave up on.</summary>
public sealed class ResetRaceTests
{
    [Fact]
    public async Task ResetAsync_RacingCallStart_EveryStreamServerSawIsCancelled()
    {
        var seen = new ConcurrentQueue<CallStream>();
        await using var pair = await ConnectionPair.StartAsync(onCall: (_, stream, _) => seen.Enqueue(stream));
        const int iterations = 3000;
        for (var i = 0; i < iterations; i++)
        {
            var stream = pair.Client.CreateStream();
            var starting = Task.Run(async () =>
            {
                try
                {
                    await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout });
                }
                catch (StreamResetException)
                {
                    // The reset won: the call start was never written.
                }
            });
            var resetting = Task.Run(() => stream.ResetAsync(new Status(StatusCode.Cancelled, "raced")).AsTask());
            await Task.WhenAll(starting, resetting).DefaultTimeout();
        }

        // Every CANCEL the client sent is on the wire before this ping's answer.
        await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();
        await pair.Server.PingAsync(CancellationToken.None).DefaultTimeout();
        Assert.All(seen, s => Assert.True(s.IsClosed, $"Stream {s.Id} was started and reset, yet the server still runs it."));
        Assert.Equal(0, pair.Server.ActiveStreamCount);
    }

    [Fact]
    public async Task GoAway_RacingCallStarts_LastStreamIdCoversEveryAcceptedCall()
    {
        for (var round = 0; round < 20; round++)
        {
            var accepted = new ConcurrentQueue<uint>();
            await using var pair = await ConnectionPair.StartAsync(onCall: (_, stream, _) => accepted.Enqueue(stream.Id));
            var streams = new ConcurrentQueue<CallStream>();
            var starting = Task.Run(async () =>
            {
                for (var i = 0; i < 90; i++)
                {
                    var stream = pair.Client.CreateStream();
                    streams.Enqueue(stream);
                    try
                    {
                        await stream.SendAsync(new OutgoingFrames { Method = "/s/m", TimeoutMicroseconds = CallStart.NoTimeout });
                    }
                    catch (StreamResetException)
                    {
                        break;
                    }
                }
            });
            await Task.Yield();
            await pair.Server.TrySendGoAwayAsync(new Status(StatusCode.Unavailable, "bye")).DefaultTimeout();
            await starting.DefaultTimeout();
            await pair.Client.PingAsync(CancellationToken.None).DefaultTimeout();

            // A call the server accepted must not have been failed by the client as "never seen".
            foreach (var stream in streams)
            {
                if (accepted.Contains(stream.Id) && stream.ResetStatus is { } status)
                {
                    Assert.DoesNotContain("going away", status.Detail, StringComparison.Ordinal);
                }
            }
        }
    }
}
