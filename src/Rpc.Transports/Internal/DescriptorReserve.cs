using Microsoft.Win32.SafeHandles;

namespace Rpc.Transports.Internal;

/// <summary>
/// A few file descriptors held back for the moment the process runs out (EMFILE). The .NET runtime
/// needs descriptors to start a thread or a timer and fails hard without them (seen: refused
/// connections with OutOfMemoryException, then the process ending with "Out of memory."), so a
/// listener that hits EMFILE frees these first: the runtime gets room to log, back off and close
/// connections, and the server survives until descriptors free up. Until the reserve can be taken
/// again, listeners close what they accept at once (as libuv does) instead of starting handshakes
/// that need more descriptors and threads.
/// </summary>
internal static class DescriptorReserve
{
    private const int Size = 16;
    private static readonly Lock Gate = new();
    private static List<SafeFileHandle>? _held;

    /// <summary>Takes the reserve if it is not held; false when descriptors are too short to.</summary>
    public static bool EnsureHeld()
    {
        if (Volatile.Read(ref _held) is not null)
        {
            return true;
        }

        lock (Gate)
        {
            if (_held is not null)
            {
                return true;
            }

            var handles = new List<SafeFileHandle>(Size);
            try
            {
                for (var i = 0; i < Size; i++)
                {
                    handles.Add(File.OpenHandle("/dev/null"));
                }

                Volatile.Write(ref _held, handles);
                return true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                handles.ForEach(handle => handle.Dispose());
                return false;
            }
        }
    }

    /// <summary>Frees the reserve for the process to use; false when it was not held.</summary>
    public static bool Release()
    {
        List<SafeFileHandle>? held;
        lock (Gate)
        {
            held = _held;
            Volatile.Write(ref _held, null);
        }

        held?.ForEach(handle => handle.Dispose());
        return held is not null;
    }
}
