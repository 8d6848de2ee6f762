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
}
