using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Rpc.Tests.Transports;

/// <summary>Keeps what a listener logs, so a test can check that a refusal or failure was reported.</summary>
public sealed class ListLogger : ILogger
{
    private readonly Lock _lock = new();
    private readonly List<(LogLevel Level, string Message)> _entries = [];
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var message = formatter(state, exception);
        lock (_lock)
        {
            _entries.Add((logLevel, message));
            foreach (var waiter in _waiters.Where(w => message.Contains(w.Text, StringComparison.Ordinal)))
            {
                waiter.Seen.TrySetResult();
            }
        }
    }

    public bool Contains(string text)
    {
        lock (_lock)
        {
            return _entries.Any(e => e.Message.Contains(text, StringComparison.Ordinal));
        }
    }

    /// <summary>Completes once an entry containing <paramref name="text"/> was logged (bound it with DefaultTimeout).</summary>
    public Task WaitForAsync(string text)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_entries.Any(e => e.Message.Contains(text, StringComparison.Ordinal)))
            {
                return Task.CompletedTask;
            }

            _waiters.Add((text, seen));
        }

        return seen.Task;
    }

    public override string ToString() => string.Join('\n', Entries.Select(e => $"{e.Level}: {e.Message}"));
}
