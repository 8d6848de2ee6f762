using Rpc.Tests.Infrastructure;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Protocol;

public sealed class WriteLockTests
{
    [Fact]
    public void EnterAsync_Free_CompletesAtOnce()
    {
        var writeLock = new WriteLock();

        var entering = writeLock.EnterAsync().AsTask();

        Assert.True(entering.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task EnterAsync_Held_WaitsForExit()
    {
        var writeLock = new WriteLock();
        await writeLock.EnterAsync();

        var second = writeLock.EnterAsync().AsTask();
        await Task.Delay(50);
        Assert.False(second.IsCompleted);

        writeLock.Exit();
        await second.DefaultTimeout();
        writeLock.Exit();
        var third = writeLock.EnterAsync().AsTask();
        Assert.True(third.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task EnterAsync_ManyWritersOnManyThreads_OneHolderAtATimeAndNobodyLost()
    {
        var writeLock = new WriteLock();
        var holders = 0;
        var mostHolders = 0;
        var entries = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                await writeLock.EnterAsync();
                var now = Interlocked.Increment(ref holders);
                mostHolders = Math.Max(mostHolders, now);
                entries++;
                if (i % 100 == 0)
                {
                    await Task.Yield();
                }

                Interlocked.Decrement(ref holders);
                writeLock.Exit();
            }
        }))).DefaultTimeout();

        Assert.Equal(1, mostHolders);
        Assert.Equal(16_000, entries);
    }
}
