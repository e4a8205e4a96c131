// Some tests hold export calls on purpose (to keep requests in flight); on a two-core CI machine
// the thread pool would otherwise add threads slowly and make unrelated tests crawl.
[assembly: AssemblyFixture(typeof(Ironclad.Nbd.Tests.Support.ThreadPoolFixture))]

namespace Ironclad.Nbd.Tests.Support;

public sealed class ThreadPoolFixture
{
    public ThreadPoolFixture()
    {
        ThreadPool.GetMinThreads(out var workers, out var completion);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), Math.Max(completion, 64));
    }
}
