namespace Rpc.Tests.Infrastructure;

/// <summary>Signals that freeze and thaw a helper process, for tests of a peer that stops answering.</summary>
public sealed partial class ChildProcess
{
    private const int SigCont = 18;
    private const int SigStop = 19;

    /// <summary>SIGSTOP: the process keeps its sockets and memory but runs no code, like a wedged peer.</summary>
    public void Freeze() => Signal(SigStop);

    /// <summary>SIGCONT: undoes <see cref="Freeze"/>.</summary>
    public void Thaw() => Signal(SigCont);

    /// <summary>SIGTERM without waiting: the test measures how long the graceful exit takes.</summary>
    public void RequestStop() => Signal(SigTerm);

    /// <summary>Waits for the exit, bounded by <paramref name="timeout"/> instead of the default.</summary>
    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    private void Signal(int signal)
    {
        if (!_process.HasExited && SendSignal(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed with errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}.");
        }
    }
}
