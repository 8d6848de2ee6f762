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
}
