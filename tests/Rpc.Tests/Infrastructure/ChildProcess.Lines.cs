namespace Rpc.Tests.Infrastructure;

/// <summary>Waiting for several output lines that may come in any order.</summary>
public sealed partial class ChildProcess
{
    /// <summary>
    /// Waits until a line starting with each of <paramref name="prefixes"/> has been printed, in any
    /// order, bounded by <paramref name="timeout"/> (default: the tests' default timeout).
    /// </summary>
    public async Task WaitForLinesAsync(IEnumerable<string> prefixes, TimeSpan? timeout = null)
    {
        var missing = new HashSet<string>(prefixes, StringComparer.Ordinal);
        using var cancel = new CancellationTokenSource(timeout ?? TaskExtensions.DefaultTimeoutSpan);
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(cancel.Token))
            {
                missing.RemoveWhere(prefix => line.StartsWith(prefix, StringComparison.Ordinal));
                if (missing.Count == 0)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"Still waiting for lines starting with {string.Join(", ", missing)}. Output so far:{Environment.NewLine}{Transcript}");
        }

        throw new InvalidOperationException($"The process exited without printing {string.Join(", ", missing)}. Output:{Environment.NewLine}{Transcript}");
    }
}
