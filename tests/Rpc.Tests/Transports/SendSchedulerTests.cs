using Rpc.Tests.Infrastructure;
using Rpc.Transports.Internal;
using Xunit;

namespace Rpc.Tests.Transports;

public sealed class SendSchedulerTests
{
    [Fact]
    public async Task Schedule_Default_RunsOnAThreadPoolThreadNotTheCaller()
    {
        var scheduler = new SendScheduler();
        var ran = new TaskCompletionSource<(int Thread, bool Pool)>(TaskCreationOptions.RunContinuationsAsynchronously);

        var thread = new Thread(() => scheduler.Schedule(_ => ran.TrySetResult((Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread)), null));
        thread.Start();
        var (ranOn, onPool) = await ran.Task.DefaultTimeout();

        Assert.True(onPool);
        Assert.NotEqual(thread.ManagedThreadId, ranOn);
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
