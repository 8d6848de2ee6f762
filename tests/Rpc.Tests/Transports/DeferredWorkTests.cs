using Rpc.Tests.Infrastructure;
using Rpc.Transports.Internal;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// The receive thread's deferred work: only the owner defers, items run in order on it, and an
/// item that blocks loses the loop to a new thread exactly once, whichever of the item's return
/// and the watchdog's look comes first (the interleavings are forced by calling the look directly).
/// </summary>
public sealed class DeferredWorkTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task TryDefer_OnAnotherThread_Refused()
    {
        var work = new DeferredWork(() => { });
        var owner = await OnThreadAsync(() =>
        {
            work.TakeOwnership();
            return work.TryDefer(_ => { }, null);
        });

        Assert.True(owner);
        Assert.False(work.TryDefer(_ => { }, null));
    }

    [Fact]
    public async Task RunPending_RunsEveryItemInOrder_OnTheOwner()
    {
        var work = new DeferredWork(() => { });
        var ran = new List<(int Item, int Thread)>();

        var (ownerThread, completed) = await OnThreadAsync(() =>
        {
            work.TakeOwnership();
            for (var i = 0; i < 3; i++)
            {
                Assert.True(work.TryDefer(item => ran.Add(((int)item!, Environment.CurrentManagedThreadId)), i));
            }

            // An item may defer more; it runs in the same pass.
            Assert.True(work.TryDefer(_ => work.TryDefer(_ => ran.Add((3, Environment.CurrentManagedThreadId)), null), null));
            var done = work.RunPending();
            work.ReleaseOwnership();
            return (Environment.CurrentManagedThreadId, done);
        });

        Assert.True(completed);
        Assert.Equal([0, 1, 2, 3], ran.Select(r => r.Item));
        Assert.All(ran, r => Assert.Equal(ownerThread, r.Thread));
    }

    [Fact]
    public async Task ReleaseOwnership_OwnerDefersNoMore()
    {
        var work = new DeferredWork(() => { });
        var deferred = await OnThreadAsync(() =>
        {
            work.TakeOwnership();
            work.ReleaseOwnership();
            return work.TryDefer(_ => { }, null);
        });

        Assert.False(deferred);
    }

    [Fact]
    public async Task ItemBlocks_TwoLooks_LoopResumesOnANewThreadOnce_OldOwnerLeaves_DeferralPaused()
    {
        var resumed = 0;
        using var resumedEvent = new ManualResetEventSlim();
        DeferredWork? work = null;
        var newOwnerDefers = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        work = new DeferredWork(() =>
        {
            Interlocked.Increment(ref resumed);
            var thread = new Thread(() =>
            {
                work!.TakeOwnership();
                // Right after a rescue the connection's work goes to the thread pool for a while.
                newOwnerDefers.TrySetResult(work.TryDefer(_ => { }, null));
                work.ReleaseOwnership();
            });
            thread.Start();
            resumedEvent.Set();
        }, watched: false);
        using var entered = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();

        var oldOwner = OnThreadAsync(() =>
        {
            work.TakeOwnership();
            work.TryDefer(_ =>
            {
                entered.Set();
                gate.Wait(Bound);
            }, null);
            return work.RunPending();
        });
        Assert.True(entered.Wait(Bound));

        // The watchdog's looks find the same item holding the loop, its thread asleep once the
        // event's spin is over.
        var until = DateTime.UtcNow + Bound;
        while (!resumedEvent.IsSet && DateTime.UtcNow < until)
        {
            work.Inspect();
            Thread.Sleep(1);
        }

        Assert.True(resumedEvent.IsSet);
        Assert.False(await newOwnerDefers.Task.DefaultTimeout());
        work.Inspect();
        gate.Set();

        Assert.False(await oldOwner.DefaultTimeout());
        Assert.Equal(1, Volatile.Read(ref resumed));
        Assert.Equal(1, work.Rescues);
    }

    [Fact]
    public async Task ItemReturnsBeforeSecondLook_NoRescue()
    {
        var resumed = 0;
        var work = new DeferredWork(() => Interlocked.Increment(ref resumed), watched: false);
        using var entered = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();

        var owner = OnThreadAsync(() =>
        {
            work.TakeOwnership();
            work.TryDefer(_ =>
            {
                entered.Set();
                gate.Wait(Bound);
            }, null);
            var done = work.RunPending();
            work.ReleaseOwnership();
            return done;
        });
        Assert.True(entered.Wait(Bound));
        work.Inspect();
        gate.Set();

        Assert.True(await owner.DefaultTimeout());
        work.Inspect();
        work.Inspect();
        Assert.Equal(0, Volatile.Read(ref resumed));
    }

    [Fact]
    public async Task ItemRuns_RescuedOnlyAfterRunningLooks_DeferralStaysOn()
    {
        var resumed = 0;
        var work = new DeferredWork(() => Interlocked.Increment(ref resumed), watched: false);
        using var entered = new ManualResetEventSlim();
        var stop = 0;

        var owner = OnThreadAsync(() =>
        {
            work.TakeOwnership();
            // Never asleep: spins until told, as a handler that computes (or is compiled) does.
            work.TryDefer(_ =>
            {
                entered.Set();
                while (Volatile.Read(ref stop) == 0)
                {
                    Thread.SpinWait(100);
                }
            }, null);
            var done = work.RunPending();
            return (done, Deferred: work.TryDefer(_ => { }, null));
        });
        Assert.True(entered.Wait(Bound));

        for (var look = 0; look < DeferredWork.RunningLooks; look++)
        {
            work.Inspect();
        }

        Assert.Equal(0, Volatile.Read(ref resumed));
        work.Inspect();
        Assert.Equal(1, Volatile.Read(ref resumed));
        Volatile.Write(ref stop, 1);

        var (completed, _) = await owner.DefaultTimeout();
        Assert.False(completed);
        // No pause: a new owner would defer at once (this one no longer owns the loop).
        var newOwner = await OnThreadAsync(() =>
        {
            work.TakeOwnership();
            return work.TryDefer(_ => { }, null);
        });
        Assert.True(newOwner);
    }

    [Fact]
    public async Task ItemBlocks_TheProcessWatchdogRescuesIt()
    {
        using var resumed = new ManualResetEventSlim();
        var work = new DeferredWork(resumed.Set);

        var owner = OnThreadAsync(() =>
        {
            work.TakeOwnership();
            // Blocks until the watchdog hands the loop on; only the rescue can release it.
            work.TryDefer(_ => resumed.Wait(Bound), null);
            return work.RunPending();
        });

        Assert.False(await owner.DefaultTimeout());
        Assert.Equal(1, work.Rescues);
        work.ReleaseOwnership();
    }

    private static Task<T> OnThreadAsync<T>(Func<T> body)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                result.TrySetResult(body());
            }
            catch (Exception ex)
            {
                result.TrySetException(ex);
            }
        })
        { IsBackground = true };
        thread.Start();
        return result.Task;
    }
}
