using System.Globalization;
using DistributedCalculator.Primes;

namespace DistributedCalculator.Coordinator;

/// <summary>The coordinator's command line (see Program.cs for the usage text).</summary>
public sealed class CoordinatorOptions
{
    /// <summary>The count is of the primes below this.</summary>
    public long Limit { get; private set; } = 100_000_000;

    /// <summary>How many pieces the range is cut into.</summary>
    public int Segments { get; private set; } = 50;

    /// <summary>Child workers reached over anonymous pipes.</summary>
    public int Pipes { get; private set; }

    /// <summary>Child workers started listening on these addresses.</summary>
    public List<string> Spawn { get; } = [];

    /// <summary>Workers already running at these addresses.</summary>
    public List<string> Workers { get; } = [];

    /// <summary>How long one segment may take before it is given to another worker.</summary>
    public TimeSpan SegmentDeadline { get; private set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a worker has to answer its first call (connecting, and a child's start-up included).</summary>
    public TimeSpan ConnectDeadline { get; private set; } = TimeSpan.FromSeconds(30);

    /// <summary>Deadlines missed in a row before a worker gets no more segments.</summary>
    public int MaxTimeouts { get; private set; } = 2;

    /// <summary>Bound on the whole run, starting workers included.</summary>
    public TimeSpan Timeout { get; private set; } = TimeSpan.FromMinutes(5);

    /// <summary>Reads the coordinator's arguments.</summary>
    /// <exception cref="ArgumentException">An option is unknown or its value is malformed or out of range.</exception>
    public static CoordinatorOptions Parse(IReadOnlyList<string> args)
    {
        var options = new CoordinatorOptions();
        var pipesGiven = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--limit":
                    options.Limit = long.Parse(Value(args, ref i).Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    break;
                case "--segments":
                    options.Segments = int.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    break;
                case "--pipes":
                    options.Pipes = int.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    pipesGiven = true;
                    break;
                case "--spawn":
                    options.Spawn.Add(Value(args, ref i));
                    break;
                case "--worker":
                    options.Workers.Add(Value(args, ref i));
                    break;
                case "--segment-deadline":
                    options.SegmentDeadline = ParseDuration(Value(args, ref i));
                    break;
                case "--connect-deadline":
                    options.ConnectDeadline = ParseDuration(Value(args, ref i));
                    break;
                case "--max-timeouts":
                    options.MaxTimeouts = int.Parse(Value(args, ref i), CultureInfo.InvariantCulture);
                    break;
                case "--timeout":
                    options.Timeout = ParseDuration(Value(args, ref i));
                    break;
                default:
                    throw new ArgumentException($"Unknown coordinator option '{args[i]}'.");
            }
        }

        if (!pipesGiven && options.Spawn.Count == 0 && options.Workers.Count == 0)
        {
            options.Pipes = 2;
        }

        if (options.Limit < 2 || options.Limit > ReferenceSieve.MaxLimit)
        {
            throw new ArgumentException($"--limit must be between 2 and {ReferenceSieve.MaxLimit}.");
        }

        if (options.Segments < 1 || (options.Limit + options.Segments - 1) / options.Segments > SegmentSieve.MaxWidth)
        {
            throw new ArgumentException($"--segments must be at least 1 and make segments at most {SegmentSieve.MaxWidth} wide.");
        }

        if (options.Pipes < 0 || options.Pipes + options.Spawn.Count + options.Workers.Count == 0 || options.Pipes + options.Spawn.Count > 64)
        {
            throw new ArgumentException("Give at least one worker (--pipes, --spawn or --worker), and at most 64 children.");
        }

        if (options.MaxTimeouts < 1 || options.SegmentDeadline <= TimeSpan.Zero || options.ConnectDeadline <= TimeSpan.Zero || options.Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("--max-timeouts, --segment-deadline, --connect-deadline and --timeout must be positive.");
        }

        return options;
    }

    /// <summary><c>500ms</c>, <c>10s</c>, <c>2m</c>, or plain seconds.</summary>
    private static TimeSpan ParseDuration(string text)
    {
        static double Number(string digits) => double.Parse(digits, NumberStyles.Float, CultureInfo.InvariantCulture);
        return text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => TimeSpan.FromMilliseconds(Number(text[..^2])),
            _ when text.EndsWith('s') => TimeSpan.FromSeconds(Number(text[..^1])),
            _ when text.EndsWith('m') => TimeSpan.FromMinutes(Number(text[..^1])),
            _ => TimeSpan.FromSeconds(Number(text)),
        };
    }

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value.");
}
