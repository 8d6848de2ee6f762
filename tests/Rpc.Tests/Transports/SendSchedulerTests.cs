using Rpc.Tests.Infrastructure;
using Rpc.Transports.Internal;
using Xunit;

namespace Rpc.Tests.Transports;

public sealed class SendSchedulerTests
{
    [Fact]
    public async Task Schedule_Default_RunsOnTheCallingThreadBeforeReturning()
    {
        var scheduler = new SendScheduler();
        var ran = new TaskCompletionSource<(int Thread, bool Returned)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var returned = false;

        var thread = new Thread(() =>
        {
            scheduler.Schedule(_ => ran.TrySetResult((Environment.CurrentManagedThreadId, Volatile.Read(ref returned))), null);
            Volatile.Write(ref returned, true);
        });
        thread.Start();
        var (ranOn, afterReturn) = await ran.Task.DefaultTimeout();

        Assert.Equal(thread.ManagedThreadId, ranOn);
        Assert.False(afterReturn);
        Assert.False(scheduler.IsInline);
    }

    [Fact]
    public void Schedule_AfterRunInline_RunsOnTheCallingThreadBeforeReturning()
    {
        var scheduler = new SendScheduler();
        scheduler.RunInline();
        var ranOn = -1;

        scheduler.Schedule(_ => ranOn = Environment.CurrentManagedThreadId, null);

        Assert.Equal(Environment.CurrentManagedThreadId, ranOn);
        Assert.True(scheduler.IsInline);
    }

    [Fact]
    public async Task Schedule_DearSendOffTheReceiveThread_RunsOnThePool()
    {
        var scheduler = new SendScheduler();
        scheduler.DeferOn(new DeferredWork(() => { }, watched: false), batch: true, batchWithinWork: true);
        var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        var thread = new Thread(() => scheduler.Schedule(_ => ran.TrySetResult(Thread.CurrentThread.IsThreadPoolThread), null));
        thread.Start();

        Assert.True(await ran.Task.DefaultTimeout(), "A TCP send from a writer's own thread ran on that thread.");
    }

    [Theory]
    [InlineData(true, new[] { "item ends", "sent" })]
    [InlineData(false, new[] { "sent", "item ends" })]
    public async Task Schedule_FromInsideAnItemOnTheReceiveThread_DearSendWaitsForTheItemsEnd_CheapOneGoesAtOnce(bool dear, string[] expected)
    {
        var scheduler = new SendScheduler();
        var deferred = new DeferredWork(() => { }, watched: false);
        scheduler.DeferOn(deferred, batch: true, batchWithinWork: dear);
        var order = new List<string>();
        var sentOn = -1;

        var receiveThread = new Thread(() =>
        {
            deferred.TakeOwnership();
            Assert.True(deferred.TryDefer(
                _ =>
                {
                    scheduler.Schedule(_ => { order.Add("sent"); sentOn = Environment.CurrentManagedThreadId; }, null);
                    order.Add("item ends");
                },
                null));
            Assert.True(deferred.RunPending());
            deferred.ReleaseOwnership();
        });
        receiveThread.Start();
        await Task.Run(receiveThread.Join).DefaultTimeout();

        Assert.Equal(expected, order);
        Assert.Equal(receiveThread.ManagedThreadId, sentOn);
    }

    [Fact]
    public async Task Schedule_SecondFlushOfAnItem_WaitsForTheItemsEnd_FirstOfTheNextGoesAtOnce()
    {
        var (scheduler, deferred) = BatchingWithinItems();
        var order = new List<string>();

        await RunOnReceiveThreadAsync(deferred, () =>
        {
            scheduler.Schedule(_ => order.Add("first sent"), null);
            scheduler.Schedule(_ => order.Add("second sent"), null);
            Assert.True(deferred.TryDefer(
                _ =>
                {
                    scheduler.Schedule(_ => order.Add("next item's first sent"), null);
                    order.Add("next item ends");
                },
                null));
            order.Add("item ends");
        });

        Assert.Equal(["first sent", "item ends", "second sent", "next item's first sent", "next item ends"], order);
    }

    [Fact]
    public async Task SendParkedOnceFull_BatchReachedItsSize_SendsNowAndOnlyOnce()
    {
        var (scheduler, deferred) = BatchingWithinItems();
        var order = new List<string>();

        await RunOnReceiveThreadAsync(deferred, () =>
        {
            scheduler.Schedule(_ => order.Add("first sent"), null);
            scheduler.Schedule(_ => order.Add("parked sent"), null);
            scheduler.SendParkedOnceFull(1023);
            order.Add("below the size");
            scheduler.SendParkedOnceFull(1024);
            order.Add("item ends");
        });

        Assert.Equal(["first sent", "below the size", "parked sent", "item ends"], order);
    }

    [Fact]
    public async Task SendParkedOnceFull_AnotherThreadsFlush_TakesTheParkedSendOnce()
    {
        var (scheduler, deferred) = BatchingWithinItems();
        var sends = new List<(string What, int Thread)>();
        using var parked = new ManualResetEventSlim();
        using var taken = new ManualResetEventSlim();
        var flusher = new Thread(() =>
        {
            parked.Wait();
            // A writer on another thread flushed a few bytes: it must not wait for the item.
            scheduler.SendParkedOnceFull(10);
            taken.Set();
        });
        flusher.Start();

        await RunOnReceiveThreadAsync(deferred, () =>
        {
            scheduler.Schedule(_ => sends.Add(("first", Environment.CurrentManagedThreadId)), null);
            scheduler.Schedule(_ => sends.Add(("parked", Environment.CurrentManagedThreadId)), null);
            parked.Set();
            Assert.True(taken.Wait(TimeSpan.FromSeconds(10)));
        });
        await Task.Run(flusher.Join).DefaultTimeout();

        Assert.Equal(["first", "parked"], sends.Select(s => s.What));
        Assert.Equal(flusher.ManagedThreadId, sends[1].Thread);
    }

    [Fact]
    public async Task Schedule_WithoutABatchSize_EverySendOfAnItemGoesAtOnce()
    {
        var scheduler = new SendScheduler();
        var deferred = new DeferredWork(() => { }, watched: false);
        scheduler.DeferOn(deferred, batch: false);
        var order = new List<string>();

        await RunOnReceiveThreadAsync(deferred, () =>
        {
            scheduler.Schedule(_ => order.Add("first sent"), null);
            scheduler.Schedule(_ => order.Add("second sent"), null);
            order.Add("item ends");
        });

        Assert.Equal(["first sent", "second sent", "item ends"], order);
    }

    [Fact]
    public void DeferOn_NegativeBatchSize_IsRefused()
    {
        var scheduler = new SendScheduler();

        Assert.Throws<ArgumentOutOfRangeException>(() => scheduler.DeferOn(new DeferredWork(() => { }, watched: false), batch: false, batchWithinItemUpTo: -1));
    }

    /// <summary>A scheduler that gathers an item's later sends up to 1 KiB, on an unwatched receive thread's work.</summary>
    private static (SendScheduler Scheduler, DeferredWork Deferred) BatchingWithinItems()
    {
        var scheduler = new SendScheduler();
        var deferred = new DeferredWork(() => { }, watched: false);
        scheduler.DeferOn(deferred, batch: false, batchWithinItemUpTo: 1024);
        return (scheduler, deferred);
    }

    /// <summary>Runs <paramref name="items"/> as deferred items on a receive thread of the test's own.</summary>
    private static async Task RunOnReceiveThreadAsync(DeferredWork deferred, params Action[] items)
    {
        Exception? failure = null;
        var receiveThread = new Thread(() =>
        {
            try
            {
                deferred.TakeOwnership();
                foreach (var item in items)
                {
                    Assert.True(deferred.TryDefer(_ => item(), null));
                }

                Assert.True(deferred.RunPending());
                deferred.ReleaseOwnership();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        receiveThread.Start();
        await Task.Run(receiveThread.Join).DefaultTimeout();
        Assert.Null(failure);
    }
}
