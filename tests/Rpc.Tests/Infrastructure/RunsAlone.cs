using Xunit;

namespace Rpc.Tests.Infrastructure;

/// <summary>
/// Tests that load the whole machine (hundreds of connections and threads) run by themselves, so
/// they do not slow other tests past their deadlines.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "Runs alone";
}
