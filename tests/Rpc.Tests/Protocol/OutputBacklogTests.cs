using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

public sealed class OutputBacklogTests
{
    [Fact]
    public async Task WaitForRoom_DrainLandsBetweenLookAndWait_WaiterWakes()
    {
        // The interleaving that hung a client-streaming writer in the load test: the waiter has seen
        // the backlog above the mark, and the send loop drains it all before the waiter waits.
        var backlog = new OutputBacklog { HighWaterMark = 100 };
        backlog.Added(200);
        backlog.BeforeRecheck = () =>
        {
            backlog.BeforeRecheck = null;
            backlog.Sent(200);
        };

        await backlog.WaitForRoomAsync(CancellationToken.None).AsTask().DefaultTimeout();

        Assert.Equal(0, backlog.UnsentBytes);
    }

    [Fact]
    public async Task WaitForRoom_DrainAfterWaitBegins_WaiterWakes()
    {
        var backlog = new OutputBacklog { HighWaterMark = 100 };
        backlog.Added(200);

        var waiting = backlog.WaitForRoomAsync(CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        backlog.Sent(150);

        await waiting.DefaultTimeout();
    }

    [Fact]
    public async Task WaitForRoom_ManyWritersAgainstADrainingSender_NoneIsLeftWaiting()
    {
        var backlog = new OutputBacklog { HighWaterMark = 64 };
        using var stop = new CancellationTokenSource();
        var pending = 0L;
        var sender = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var take = Interlocked.Exchange(ref pending, 0);
                if (take > 0)
                {
                    backlog.Sent(take);
                }
                else
                {
                    await Task.Yield();
                }
            }
        });

        var writers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                await backlog.WaitForRoomAsync(CancellationToken.None);
                backlog.Added(48);
                Interlocked.Add(ref pending, 48);
            }
        })).ToArray();

        await Task.WhenAll(writers).DefaultTimeout();
        await stop.CancelAsync();
        await sender.DefaultTimeout();
    }
}

public sealed class ConnectionWindowWakeTests
{
    [Fact]
    public async Task TakeAsync_StreamFailsBetweenCheckAndWait_WriterWakesWithTheFailure()
    {
        var window = new ConnectionWindow(localSize: 1024, peerSize: 0);
        var failed = 0;
        using var woken = new ManualResetEventSlim();
        var checks = 0;

        // The stream's reset lands on another thread right after the writer found the stream healthy
        // and before it waits: it sets the failure, then wakes writers.
        void ThrowIfStreamFailed()
        {
            if (Volatile.Read(ref failed) == 1)
            {
                throw new InvalidOperationException("stream failed");
            }

            if (Interlocked.Increment(ref checks) == 1)
            {
                var reset = new Thread(() =>
                {
                    Volatile.Write(ref failed, 1);
                    window.WakeWriters();
                    woken.Set();
                });
                reset.Start();
                // Let the reset finish if it can; with the check under the window's lock it cannot
                // until the writer waits, which is the point.
                woken.Wait(TimeSpan.FromMilliseconds(200));
            }
        }

        var take = window.TakeAsync(10, ThrowIfStreamFailed, CancellationToken.None).AsTask();

        await Assert.ThrowsAsync<InvalidOperationException>(() => take.DefaultTimeout());
    }
}
