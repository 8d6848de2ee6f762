using Rpc.Transports.Internal;
using Xunit;

namespace Rpc.Tests.Transports;

public sealed class OsThreadsTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void IsRunning_ThreadAsleepOnAnEvent_False_SpinningThread_True()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal(0, OsThreads.CurrentId());
            return;
        }

        using var gate = new AutoResetEvent(initialState: false);
        var sleeperId = 0;
        var spinnerId = 0;
        var stop = 0;
        var sleeper = new Thread(() =>
        {
            Volatile.Write(ref sleeperId, OsThreads.CurrentId());
            gate.WaitOne(Bound);
        });
        var spinner = new Thread(() =>
        {
            Volatile.Write(ref spinnerId, OsThreads.CurrentId());
            while (Volatile.Read(ref stop) == 0)
            {
                Thread.SpinWait(100);
            }
        });
        sleeper.Start();
        spinner.Start();
        try
        {
            // The sleeper reaches its wait some time after it starts.
            var until = DateTime.UtcNow + Bound;
            while ((Volatile.Read(ref sleeperId) == 0 || OsThreads.IsRunning(sleeperId)) && DateTime.UtcNow < until)
            {
                Thread.Sleep(1);
            }

            Assert.NotEqual(0, sleeperId);
            Assert.False(OsThreads.IsRunning(sleeperId));
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref spinnerId) != 0, Bound));
            Assert.True(OsThreads.IsRunning(spinnerId));
        }
        finally
        {
            gate.Set();
            Volatile.Write(ref stop, 1);
            sleeper.Join(Bound);
            spinner.Join(Bound);
        }
    }
}
