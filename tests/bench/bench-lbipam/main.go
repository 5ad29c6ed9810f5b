// SPDX-License-Identifier: Apache-2.0
//
// bench-lbipam-driver: the load of issue 5's benchmark, the same for any
// MetalLB-compatible load-balancer IP controller running against the
// apiserver of --kubeconfig (berth-controller --controllers=lbipam or
// MetalLB's controller; tests/bench/bench-lbipam.sh runs both).  It writes
// one IPAddressPool (a /16) and one L2Advertisement in --config-namespace,
// then creates --services LoadBalancer Services (allocateLoadBalancerNodePorts
// false) and watches their status.  Phases, in order:
//
//   - warmup: one Service, waited for; the controller has loaded the pool;
//   - first: --probe Services created one at a time, each waited for: the
//     latency of an allocation into an (almost) empty pool;
//   - bulk: the rest but --probe, created by --workers concurrent writers:
//     time until every one has an IP, CPU, API writes;
//   - last: --probe Services one at a time again, now that the pool holds
//     --services - --probe allocations: the latency of the 10,000th.
//
// Latency is from the create request to the watch event that shows the
// Service's status.loadBalancer.ingress; the controller is otherwise idle
// then, so first vs last compares the cost of one allocation with an empty
// and with a full allocator, not a queue.  (In the bulk phase the
// per-Service latency is mostly the wait behind the Services created
// before, so it says nothing about that cost; the bulk phase measures
// throughput instead.)  Each phase ends once the controller has made no
// write (Service status, event, pool status: the apiserver's own counters)
// for --quiet, so that no phase inherits the previous one's backlog; the
// bulk phase reports both the time until every Service has an IP and the
// time of the controller's last write.  The controller process (--pid) is
// sampled every --sample for peak private memory (Rss - Shared of
// smaps_rollup) and peak VmRSS.  Figures are printed as `label_name: value unit` lines.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	kubeconfig = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the apiserver")
	namespace  = flag.String("namespace", "bench", "namespace of the Services")
	configNS   = flag.String("config-namespace", "metallb-system", "namespace of the IPAddressPool")
	poolCIDR   = flag.String("pool", "10.200.0.0/16", "addresses of the IPAddressPool")
	nServices  = flag.Int("services", 10000, "LoadBalancer Services in all")
	nProbe     = flag.Int("probe", 100, "Services created one at a time at the start and at the end")
	workers    = flag.Int("workers", 16, "concurrent writers of the bulk phase")
	pid        = flag.Int("pid", 0, "the controller's process id (CPU, memory)")
	sample     = flag.Duration("sample", 100*time.Millisecond, "memory sampling period")
	timeout    = flag.Duration("timeout", 20*time.Minute, "give up a phase after this long")
	quiet      = flag.Duration("quiet", 3*time.Second, "a phase ends once the controller has written nothing for this long")
	label      = flag.String("label", "controller", "prefix of every figure printed")
)

var (
	poolGVR = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "ipaddresspools"}
	l2GVR   = schema.GroupVersionResource{Group: "metallb.io", Version: "v1beta1", Resource: "l2advertisements"}
)

type driver struct {
	client kubernetes.Interface
	pool   netip.Prefix

	mu        sync.Mutex
	created   map[string]time.Time     // name -> create request sent
	got       map[string]time.Time     // name -> first watch event with an IP
	ips       map[string]string        // name -> its first IP
	waiters   map[string]chan struct{} // name -> closed when it has an IP
	lastEvent time.Time                // last watch event that gave a Service its IP
	bad       []string                 // IPs outside the pool
}

type memPeaks struct {
	mu                sync.Mutex
	private, rss, hwm float64 // KiB
	anon              float64 // KiB
	samples           int
}

func svcName(i int) string { return fmt.Sprintf("lb-%05d", i) }
func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-lbipam-driver: %s: %v\n", what, err)
		os.Exit(1)
	}
}

// Runs f(i) for i in [lo,hi) on --workers goroutines.
func parallel(lo, hi int, f func(i int)) {
	var wg sync.WaitGroup
	ch := make(chan int)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				f(i)
			}
		}()
	}
	for i := lo; i < hi; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
}

func (d *driver) onService(obj interface{}) {
	s, ok := obj.(*corev1.Service)
	if !ok || len(s.Status.LoadBalancer.Ingress) == 0 {
		return
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, seen := d.got[s.Name]; seen {
		return
	}
	d.got[s.Name] = now
	d.lastEvent = now
	ip := s.Status.LoadBalancer.Ingress[0].IP
	d.ips[s.Name] = ip
	if a, err := netip.ParseAddr(ip); err != nil || !d.pool.Contains(a) {
		d.bad = append(d.bad, s.Name+"="+ip)
	}
	if ch := d.waiters[s.Name]; ch != nil {
		close(ch)
		delete(d.waiters, s.Name)
	}
}

func (d *driver) create(ctx context.Context, i int) chan struct{} {
	name := svcName(i)
	ch := make(chan struct{})
	d.mu.Lock()
	d.created[name] = time.Now()
	d.waiters[name] = ch
	d.mu.Unlock()
	noNodePorts := false
	_, err := d.client.CoreV1().Services(*namespace).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: &noNodePorts,
			Selector:                      map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	must(err, "create service "+name)
	return ch
}

func (d *driver) wait(ch chan struct{}, what string) {
	select {
	case <-ch:
	case <-time.After(*timeout):
		fmt.Fprintf(os.Stderr, "bench-lbipam-driver: %s: no IP after %s\n", what, *timeout)
		os.Exit(1)
	}
}

func (d *driver) latency(i int) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.got[svcName(i)].Sub(d.created[svcName(i)])
}

// The apiserver's own count of the writes only the controller makes:
// Service updates (status or not), events, IPAddressPool status updates.
func (d *driver) apiWrites() (status, events, pools float64) {
	body, err := d.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	must(err, "GET /metrics")
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		isWrite := false
		for _, v := range []string{`verb="POST"`, `verb="PUT"`, `verb="PATCH"`, `verb="APPLY"`} {
			isWrite = isWrite || strings.Contains(line, v)
		}
		if !isWrite {
			continue
		}
		val, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			continue
		}
		switch {
		// the driver only POSTs Services: every other write is the
		// controller's, status subresource or not
		case strings.Contains(line, `resource="services"`) && !strings.Contains(line, `verb="POST"`):
			status += val
		case strings.Contains(line, `resource="events"`):
			events += val
		case strings.Contains(line, `resource="ipaddresspools"`) && strings.Contains(line, `subresource="status"`):
			pools += val
		}
	}
	return status, events, pools
}

// Waits until the controller has made no write for --quiet (a controller
// may go on writing after the IPs are visible: MetalLB writes each
// Service's status twice); returns the time of its last write, seen to
// within the polling period.
func (d *driver) waitQuiet(what string) time.Time {
	const poll = 200 * time.Millisecond
	deadline := time.Now().Add(*timeout)
	var prev [3]float64
	last := time.Now()
	for first := true; ; first = false {
		s, e, p := d.apiWrites()
		now := time.Now()
		if cur := [3]float64{s, e, p}; first || cur != prev {
			prev, last = cur, now
		} else if now.Sub(last) >= *quiet {
			return last
		}
		if now.After(deadline) {
			fmt.Fprintf(os.Stderr, "bench-lbipam-driver: %s: the controller still writes after %s\n", what, *timeout)
			os.Exit(1)
		}
		time.Sleep(poll)
	}
}

func procCPU() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", *pid))
	must(err, "read /proc/PID/stat (did the controller exit?)")
	f := strings.Fields(string(b[strings.LastIndex(string(b), ")")+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// KiB values of the keys of /proc/PID/FILE (0 for a missing key).
func procKB(file string, keys ...string) []float64 {
	out := make([]float64, len(keys))
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", *pid, file))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		for k, key := range keys {
			if strings.HasPrefix(line, key+":") {
				out[k], _ = strconv.ParseFloat(strings.Fields(line)[1], 64)
			}
		}
	}
	return out
}

// private = Rss - Shared_Clean - Shared_Dirty of smaps_rollup.  "Shared"
// counts pages that another process maps too, so a dynamically linked
// controller's private figure moves by the size of its libraries as other
// processes using them come and go; anon (Anonymous: heap, stacks) does not
// depend on the neighbours.
func memNow() (private, rss, hwm, anon float64) {
	r := procKB("smaps_rollup", "Rss", "Shared_Clean", "Shared_Dirty", "Anonymous")
	s := procKB("status", "VmRSS", "VmHWM")
	return r[0] - r[1] - r[2], s[0], s[1], r[3]
}

func (m *memPeaks) run(stop chan struct{}) {
	t := time.NewTicker(*sample)
	defer t.Stop()
	for {
		p, r, h, a := memNow()
		m.mu.Lock()
		m.private = max(m.private, p)
		m.rss = max(m.rss, r)
		m.hwm = max(m.hwm, h)
		m.anon = max(m.anon, a)
		m.samples++
		m.mu.Unlock()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return s[i]
}

func out(name string, value float64, unit string) {
	fmt.Printf("%s_%s: %.3f %s\n", *label, name, value, unit)
}

// One Service at a time, each waited for; returns the median latency.
func (d *driver) probe(ctx context.Context, name string, lo, hi int) time.Duration {
	c0 := procCPU()
	w0, e0, q0 := d.apiWrites()
	var lat []time.Duration
	for i := lo; i < hi; i++ {
		d.wait(d.create(ctx, i), svcName(i))
		lat = append(lat, d.latency(i))
	}
	d.waitQuiet(name)
	c1 := procCPU()
	w1, e1, q1 := d.apiWrites()
	n := float64(hi - lo)
	p50 := percentile(lat, 0.50)
	out(name+"_latency_p50", p50.Seconds()*1000, "ms")
	out(name+"_latency_p90", percentile(lat, 0.90).Seconds()*1000, "ms")
	out(name+"_latency_max", percentile(lat, 1).Seconds()*1000, "ms")
	out(name+"_cpu_per_service", (c1-c0)/n*1000, "ms")
	out(name+"_service_writes_per_service", (w1-w0)/n, "requests")
	out(name+"_events_per_service", (e1-e0)/n, "requests")
	out(name+"_pool_status_writes_per_service", (q1-q0)/n, "requests")
	return p50
}

func (d *driver) configure(ctx context.Context) {
	dyn, err := dynamic.NewForConfig(mustConfig())
	must(err, "dynamic client")
	for _, ns := range []string{*namespace, *configNS} {
		_, err = d.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			must(err, "create namespace "+ns)
		}
	}
	// The advertisement first: the pool is announced from the start, so
	// neither controller has a reason to warn about it.
	l2 := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
		"metadata": map[string]interface{}{"name": "bench", "namespace": *configNS},
		"spec":     map[string]interface{}{"ipAddressPools": []interface{}{"bench"}},
	}}
	_, err = dyn.Resource(l2GVR).Namespace(*configNS).Create(ctx, l2, metav1.CreateOptions{})
	must(err, "create L2Advertisement")
	pool := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
		"metadata": map[string]interface{}{"name": "bench", "namespace": *configNS},
		"spec":     map[string]interface{}{"addresses": []interface{}{*poolCIDR}},
	}}
	_, err = dyn.Resource(poolGVR).Namespace(*configNS).Create(ctx, pool, metav1.CreateOptions{})
	must(err, "create IPAddressPool")
}

func mustConfig() *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	must(err, "kubeconfig")
	cfg.QPS, cfg.Burst = 100000, 100000
	cfg.UserAgent = "bench-lbipam-driver"
	return cfg
}

func main() {
	flag.Parse()
	if *pid == 0 || *nServices < 2**nProbe+2 {
		fmt.Fprintln(os.Stderr, "bench-lbipam-driver: --pid is required, and --services must exceed 2 x --probe + 1")
		os.Exit(2)
	}
	pool, err := netip.ParsePrefix(*poolCIDR)
	must(err, "--pool")
	client, err := kubernetes.NewForConfig(mustConfig())
	must(err, "client")
	d := &driver{client: client, pool: pool, created: map[string]time.Time{}, got: map[string]time.Time{},
		ips: map[string]string{}, waiters: map[string]chan struct{}{}}
	ctx := context.Background()

	stopMem := make(chan struct{})
	mem := &memPeaks{}
	go mem.run(stopMem)
	cpuStart := procCPU()
	p0, r0, _, _ := memNow()

	d.configure(ctx)
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(*namespace))
	inf := f.Core().V1().Services().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    d.onService,
		UpdateFunc: func(_, o interface{}) { d.onService(o) },
	})
	stop := make(chan struct{})
	f.Start(stop)
	f.WaitForCacheSync(stop)
	fmt.Printf("# %s: %d LoadBalancer Services from %s, probes of %d, %d writers\n",
		*label, *nServices, *poolCIDR, *nProbe, *workers)
	out("startup_cpu", cpuStart, "s")
	out("startup_private_memory", p0/1024, "MiB")
	out("startup_rss", r0/1024, "MiB")

	// warmup: the controller has read the pool once this Service has its IP
	c0 := procCPU()
	d.wait(d.create(ctx, 0), "warmup Service")
	out("warmup_latency", d.latency(0).Seconds()*1000, "ms")
	d.waitQuiet("warmup")

	first := d.probe(ctx, "first", 1, 1+*nProbe)

	bulkLo, bulkHi := 1+*nProbe, *nServices-*nProbe
	cb0 := procCPU()
	w0, e0, q0 := d.apiWrites()
	start := time.Now()
	var lastWrite time.Time
	var lwMu sync.Mutex
	parallel(bulkLo, bulkHi, func(i int) {
		d.create(ctx, i)
		lwMu.Lock()
		lastWrite = time.Now()
		lwMu.Unlock()
	})
	createdAll := time.Now()
	deadline := time.Now().Add(*timeout)
	for {
		d.mu.Lock()
		pending := len(d.waiters)
		last := d.lastEvent
		d.mu.Unlock()
		if pending == 0 {
			n := float64(bulkHi - bulkLo)
			conv := last.Sub(start)
			out("bulk_services", n, "Services")
			out("bulk_create_seconds", createdAll.Sub(start).Seconds(), "s")
			out("bulk_time_to_all_ips", conv.Seconds(), "s")
			out("bulk_after_last_create", max(last.Sub(lastWrite), 0).Seconds(), "s")
			out("bulk_services_per_second", n/conv.Seconds(), "Services/s")
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "bench-lbipam-driver: bulk: %d Services without an IP after %s\n", pending, *timeout)
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	quietAt := d.waitQuiet("bulk")
	out("bulk_time_to_last_write", quietAt.Sub(start).Seconds(), "s")
	cb1 := procCPU()
	w1, e1, q1 := d.apiWrites()
	out("bulk_cpu", cb1-cb0, "s")
	out("bulk_cpu_per_service", (cb1-cb0)/float64(bulkHi-bulkLo)*1000, "ms")
	out("bulk_service_writes", w1-w0, "requests")
	out("bulk_events", e1-e0, "requests")
	out("bulk_pool_status_writes", q1-q0, "requests")

	last := d.probe(ctx, "last", *nServices-*nProbe, *nServices)
	out("last_vs_first_latency_p50", float64(last)/float64(first), "x")

	c1 := procCPU()
	out("all_cpu", c1-c0, "s")
	close(stopMem)
	p1, r1, hwm, a1 := memNow()
	mem.mu.Lock()
	out("peak_private_memory", max(mem.private, p1)/1024, "MiB")
	out("peak_rss", max(mem.rss, r1)/1024, "MiB")
	out("peak_anonymous_memory", max(mem.anon, a1)/1024, "MiB")
	out("peak_rss_hwm", hwm/1024, "MiB")
	out("memory_samples", float64(mem.samples), "samples")
	mem.mu.Unlock()
	out("final_private_memory", p1/1024, "MiB")
	out("final_rss", r1/1024, "MiB")

	// every Service has a distinct IP of the pool
	d.mu.Lock()
	seen := map[string]string{}
	dups := 0
	for name, ip := range d.ips {
		if other, ok := seen[ip]; ok {
			dups++
			fmt.Fprintf(os.Stderr, "bench-lbipam-driver: %s and %s both got %s\n", name, other, ip)
		}
		seen[ip] = name
	}
	out("services_with_ip", float64(len(d.ips)), "Services")
	out("duplicate_ips", float64(dups), "Services")
	out("ips_outside_pool", float64(len(d.bad)), "Services")
	d.mu.Unlock()
	close(stop)
	if dups > 0 || len(d.bad) > 0 || len(d.ips) != *nServices {
		os.Exit(1)
	}
}
