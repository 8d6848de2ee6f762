using System.Globalization;

namespace DistributedCalculator.Worker;

/// <summary>How the worker misbehaves on purpose, so the coordinator's fault tolerance can be shown and tested.</summary>
public enum HoldMode
{
    /// <summary>Answers every segment.</summary>
    None,

    /// <summary>Never answers its first segment (announces it on stdout): a test kills it then.</summary>
    First,

    /// <summary>Never answers any segment: the coordinator's per-segment deadline must give up on it.</summary>
    All,
}

/// <summary>The worker's command line: <c>worker [ADDRESS ...] [--parent-pipes] [--exit-with-stdin] [--delay MS] [--hold first|all]</c>.</summary>
public sealed class WorkerOptions
{
    /// <summary>Addresses to listen on (unix://, shm://, tcp://, pipe://, http://, ...).</summary>
    public List<string> Addresses { get; } = [];

    /// <summary>Serve the parent that started this process with <c>RpcChannel.ForChildProcess</c>.</summary>
    public bool ParentPipes { get; private set; }

    /// <summary>Stop when stdin closes: set by a coordinator that starts this worker, so it never outlives it.</summary>
    public bool ExitWithStdin { get; private set; }

    /// <summary>Extra time each segment takes: makes a worker slow on purpose.</summary>
    public TimeSpan Delay { get; private set; }

    /// <summary>Whether and which segments are never answered.</summary>
    public HoldMode Hold { get; private set; }

    /// <summary>Reads the arguments after <c>worker</c>.</summary>
    /// <exception cref="ArgumentException">An option is unknown or its value is malformed.</exception>
    public static WorkerOptions Parse(IReadOnlyList<string> args)
    {
        var options = new WorkerOptions();
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--parent-pipes":
                    options.ParentPipes = true;
                    break;
                case "--exit-with-stdin":
                    options.ExitWithStdin = true;
                    break;
                case "--delay":
                    options.Delay = TimeSpan.FromMilliseconds(int.Parse(Value(args, ref i), CultureInfo.InvariantCulture));
                    break;
                case "--hold":
                    options.Hold = Value(args, ref i) switch
                    {
                        "first" => HoldMode.First,
                        "all" => HoldMode.All,
                        var other => throw new ArgumentException($"--hold takes 'first' or 'all', not '{other}'."),
                    };
                    break;
                case var option when option.StartsWith('-'):
                    throw new ArgumentException($"Unknown worker option '{option}'.");
                default:
                    options.Addresses.Add(args[i]);
                    break;
            }
        }

        if (options.Addresses.Count == 0 && !options.ParentPipes)
        {
            throw new ArgumentException("A worker needs an address to listen on, or --parent-pipes.");
        }

        return options;
    }

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value.");
}
