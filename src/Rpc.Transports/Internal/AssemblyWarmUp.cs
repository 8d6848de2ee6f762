using System.IO.Pipelines;

namespace Rpc.Transports.Internal;

/// <summary>
/// Loads, when a listener binds, the assemblies its first connection would otherwise load. The
/// runtime opens an assembly's file on first use and remembers a failure for good: a server that
/// ran out of file descriptors (EMFILE) before its first connection could never serve one, even
/// after descriptors freed up ("Could not load file or assembly 'System.IO.Pipelines'"). The same
/// holds for the runtime's timer thread, started by the first timer: started while out of
/// descriptors, it never runs, and no backoff delay or handshake timeout ever fires again.
/// </summary>
internal static class AssemblyWarmUp
{
    private static int _done;

    public static void Ensure()
    {
        if (Interlocked.Exchange(ref _done, 1) == 1)
        {
            return;
        }

        var pipe = new Pipe(PipeOptions.Default);
        pipe.Writer.Complete();
        pipe.Reader.Complete();
        Task.Delay(1).GetAwaiter().GetResult();
    }
}
