// SPDX-License-Identifier: Apache-2.0
//
// bench-endpoints-driver: the load of issue 3's benchmark, the same for any
// endpoints/EndpointSlice controller running against the apiserver of
// --kubeconfig (berth-controller or kube-controller-manager; the script
// tests/bench/bench-endpoints.sh runs both).  It plays kubelet: creates
// Services × pods, writes pod status (IP, Ready) through the status
// subresource, flips every pod to not ready, deletes half the pods, then
// leaves the cluster alone.  It watches Endpoints and EndpointSlices and
// prints `name: value unit` lines:
//
//   - convergence time of each phase: first write of the phase to the last
//     watch event after which every Endpoints and every Service's slices
//     are exactly right;
//   - p50/p99 propagation latency: from the moment a pod write is sent to
//     the watch event of the slice that reflects it;
//   - API writes of the controller: the apiserver's own
//     apiserver_request_total for endpoints and endpointslices (the driver
//     never writes those, so every such write is the controller's);
//   - CPU seconds (utime+stime of /proc/PID/stat) per phase, peak RSS
//     (VmHWM) and private memory (Rss - Shared of smaps_rollup) at the end
//     of the controller process --pid.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	kubeconfig = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the apiserver")
	namespace  = flag.String("namespace", "bench", "namespace to create everything in")
	nServices  = flag.Int("services", 1000, "Services")
	podsPer    = flag.Int("pods-per-service", 10, "pods per Service")
	nNodes     = flag.Int("nodes", 10, "Nodes (pods are spread over them; each in a zone)")
	workers    = flag.Int("workers", 16, "concurrent writers")
	pid        = flag.Int("pid", 0, "the controller's process id (CPU, memory)")
	idle       = flag.Duration("idle", 60*time.Second, "unchanged-cluster window in which writes are counted")
	timeout    = flag.Duration("timeout", 10*time.Minute, "give up a phase after this long")
	settle     = flag.Duration("settle", 2*time.Second, "pause after a phase converged")
	label      = flag.String("label", "controller", "prefix of every figure printed")
)

// expected state of one pod
type podWant struct {
	svc     int
	ip      string
	present bool
	ready   bool
}

type pending struct {
	sent    time.Time
	present bool
	ready   bool
}

type driver struct {
	client kubernetes.Interface

	mu        sync.Mutex
	want      map[string]*podWant // ip -> want
	pend      map[string]*pending // ip -> write awaiting its slice
	latencies []time.Duration
	lastEvent time.Time
	lastWrite time.Time                  // of the current phase
	ipSlice   map[string]string          // ip -> slice holding it
	sliceEps  map[string]map[string]bool // slice -> ip -> ready

	epInf    cache.SharedIndexInformer
	sliceInf cache.SharedIndexInformer
}

func svcName(i int) string    { return fmt.Sprintf("svc-%04d", i) }
func podName(s, p int) string { return fmt.Sprintf("svc-%04d-%02d", s, p) }
func podIP(s, p int) string {
	n := s**podsPer + p
	return fmt.Sprintf("10.%d.%d.%d", 100+n/62500, (n/250)%250, n%250+1)
}
func nodeName(i int) string { return fmt.Sprintf("bench-node-%02d", i) }
func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-endpoints-driver: %s: %v\n", what, err)
		os.Exit(1)
	}
}

// Runs f(i) for i in [0,n) on --workers goroutines.
func parallel(n int, f func(i int)) {
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
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
}

func (d *driver) onSlice(obj interface{}, deleted bool) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		if t, ok2 := obj.(cache.DeletedFinalStateUnknown); ok2 {
			s, ok = t.Obj.(*discoveryv1.EndpointSlice)
		}
		if !ok {
			return
		}
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastEvent = now
	key := s.Namespace + "/" + s.Name
	eps := map[string]bool{}
	if !deleted {
		for _, ep := range s.Endpoints {
			r := ep.Conditions.Ready != nil && *ep.Conditions.Ready
			for _, a := range ep.Addresses {
				eps[a] = r
			}
		}
	}
	for ip := range d.sliceEps[key] {
		if _, still := eps[ip]; !still && d.ipSlice[ip] == key {
			delete(d.ipSlice, ip)
			if p := d.pend[ip]; p != nil && !p.present {
				d.latencies = append(d.latencies, now.Sub(p.sent))
				delete(d.pend, ip)
			}
		}
	}
	for ip, r := range eps {
		d.ipSlice[ip] = key
		if p := d.pend[ip]; p != nil && p.present && p.ready == r {
			d.latencies = append(d.latencies, now.Sub(p.sent))
			delete(d.pend, ip)
		}
	}
	if deleted {
		delete(d.sliceEps, key)
	} else {
		d.sliceEps[key] = eps
	}
}

func (d *driver) onEndpoints() {
	d.mu.Lock()
	d.lastEvent = time.Now()
	d.mu.Unlock()
}

// Is every Endpoints and every Service's set of slices exactly what the pods say?
func (d *driver) correct() (bool, string) {
	d.mu.Lock()
	wantBySvc := make([]map[string]bool, *nServices)
	for i := range wantBySvc {
		wantBySvc[i] = map[string]bool{}
	}
	for ip, w := range d.want {
		if w.present {
			wantBySvc[w.svc][ip] = w.ready
		}
	}
	pend := len(d.pend)
	d.mu.Unlock()
	if pend > 0 {
		return false, fmt.Sprintf("%d pod writes not yet in a slice", pend)
	}
	// slices, grouped by Service
	got := make([]map[string]bool, *nServices)
	for i := range got {
		got[i] = map[string]bool{}
	}
	for _, o := range d.sliceInf.GetStore().List() {
		s := o.(*discoveryv1.EndpointSlice)
		var idx int
		if _, err := fmt.Sscanf(s.Labels[discoveryv1.LabelServiceName], "svc-%d", &idx); err != nil || idx >= *nServices {
			continue
		}
		for _, ep := range s.Endpoints {
			r := ep.Conditions.Ready != nil && *ep.Conditions.Ready
			for _, a := range ep.Addresses {
				if _, dup := got[idx][a]; dup {
					return false, fmt.Sprintf("%s: %s in two slices", svcName(idx), a)
				}
				got[idx][a] = r
			}
		}
	}
	for i := 0; i < *nServices; i++ {
		if len(got[i]) != len(wantBySvc[i]) {
			return false, fmt.Sprintf("%s: slices hold %d endpoints, want %d", svcName(i), len(got[i]), len(wantBySvc[i]))
		}
		for ip, r := range wantBySvc[i] {
			if g, ok := got[i][ip]; !ok || g != r {
				return false, fmt.Sprintf("%s: slice endpoint %s wrong", svcName(i), ip)
			}
		}
		o, exists, _ := d.epInf.GetStore().GetByKey(*namespace + "/" + svcName(i))
		if !exists {
			return false, fmt.Sprintf("%s: no Endpoints", svcName(i))
		}
		e := o.(*corev1.Endpoints)
		seen := 0
		for _, ss := range e.Subsets {
			for _, a := range ss.Addresses {
				if r, ok := wantBySvc[i][a.IP]; !ok || !r {
					return false, fmt.Sprintf("%s: Endpoints address %s wrong", svcName(i), a.IP)
				}
				seen++
			}
			for _, a := range ss.NotReadyAddresses {
				if r, ok := wantBySvc[i][a.IP]; !ok || r {
					return false, fmt.Sprintf("%s: Endpoints not-ready address %s wrong", svcName(i), a.IP)
				}
				seen++
			}
		}
		if seen != len(wantBySvc[i]) {
			return false, fmt.Sprintf("%s: Endpoints hold %d addresses, want %d", svcName(i), seen, len(wantBySvc[i]))
		}
	}
	return true, ""
}

// Waits until correct(); returns the time of the last watch event before that.
func (d *driver) converge(phase string, start time.Time) time.Duration {
	deadline := time.Now().Add(*timeout)
	why := ""
	for time.Now().Before(deadline) {
		ok, w := d.correct()
		if ok {
			d.mu.Lock()
			last := d.lastEvent
			d.mu.Unlock()
			if last.Before(start) {
				last = start
			}
			return last.Sub(start)
		}
		why = w
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "bench-endpoints-driver: phase %s did not converge in %s: %s\n", phase, *timeout, why)
	os.Exit(1)
	return 0
}

// Counts the apiserver's write requests for endpoints and endpointslices.
func (d *driver) apiWrites() (float64, float64) {
	body, err := d.client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	must(err, "GET /metrics")
	var eps, slices float64
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		isWrite := false
		for _, v := range []string{`verb="POST"`, `verb="PUT"`, `verb="PATCH"`, `verb="DELETE"`, `verb="APPLY"`} {
			if strings.Contains(line, v) {
				isWrite = true
			}
		}
		if !isWrite {
			continue
		}
		val, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(line, `resource="endpoints"`) && strings.Contains(line, `group=""`):
			eps += val
		case strings.Contains(line, `resource="endpointslices"`):
			slices += val
		}
	}
	return eps, slices
}

func procCPU() float64 {
	if *pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", *pid))
	must(err, "read /proc/PID/stat")
	f := strings.Fields(string(b[strings.LastIndex(string(b), ")")+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func procKB(file, key string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", *pid, file))
	must(err, "read /proc/PID/"+file)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key+":") {
			v, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return v
		}
	}
	return 0
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func out(name string, value float64, unit string) {
	fmt.Printf("%s_%s: %.3f %s\n", *label, name, value, unit)
}

type phaseFn func()

func (d *driver) phase(name string, run phaseFn) {
	e0, s0 := d.apiWrites()
	c0 := procCPU()
	d.mu.Lock()
	d.latencies = nil
	d.mu.Unlock()
	start := time.Now()
	run()
	conv := d.converge(name, start)
	d.mu.Lock()
	tail := start.Add(conv).Sub(d.lastWrite)
	d.mu.Unlock()
	if tail < 0 {
		tail = 0
	}
	time.Sleep(*settle)
	e1, s1 := d.apiWrites()
	c1 := procCPU()
	d.mu.Lock()
	lat := append([]time.Duration(nil), d.latencies...)
	d.mu.Unlock()
	out(name+"_convergence", conv.Seconds(), "s")
	// what the controller alone adds: the driver's own write rate is
	// the same for every controller but depends on the machine
	out(name+"_converged_after_last_write", tail.Seconds(), "s")
	out(name+"_latency_p50", percentile(lat, 0.50).Seconds()*1000, "ms")
	out(name+"_latency_p99", percentile(lat, 0.99).Seconds()*1000, "ms")
	out(name+"_latency_samples", float64(len(lat)), "writes")
	out(name+"_writes_endpoints", e1-e0, "requests")
	out(name+"_writes_endpointslices", s1-s0, "requests")
	if *pid != 0 {
		out(name+"_cpu", c1-c0, "s")
	}
}

func (d *driver) expect(s, p int, present, ready bool) {
	ip := podIP(s, p)
	d.mu.Lock()
	d.want[ip] = &podWant{svc: s, ip: ip, present: present, ready: ready}
	now := time.Now()
	d.pend[ip] = &pending{sent: now, present: present, ready: ready}
	if now.After(d.lastWrite) {
		d.lastWrite = now
	}
	d.mu.Unlock()
}

func (d *driver) setStatus(s, p int, ready bool) {
	st := corev1.ConditionTrue
	if !ready {
		st = corev1.ConditionFalse
	}
	patch := fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}],"conditions":[{"type":"Ready","status":%q}]}}`,
		podIP(s, p), podIP(s, p), st)
	d.expect(s, p, true, ready)
	_, err := d.client.CoreV1().Pods(*namespace).Patch(context.Background(), podName(s, p), types.MergePatchType,
		[]byte(patch), metav1.PatchOptions{}, "status")
	must(err, "patch pod status")
}

func main() {
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	must(err, "kubeconfig")
	cfg.QPS, cfg.Burst = 100000, 100000
	cfg.UserAgent = "bench-endpoints-driver"
	client, err := kubernetes.NewForConfig(cfg)
	must(err, "client")
	d := &driver{client: client, want: map[string]*podWant{}, pend: map[string]*pending{},
		ipSlice: map[string]string{}, sliceEps: map[string]map[string]bool{}}
	ctx := context.Background()

	_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *namespace}}, metav1.CreateOptions{})
	must(err, "create namespace")
	for i := 0; i < *nNodes; i++ {
		_, err = client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(i),
			Labels: map[string]string{corev1.LabelTopologyZone: fmt.Sprintf("zone-%d", i%3)}}}, metav1.CreateOptions{})
		must(err, "create node")
	}

	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(*namespace))
	d.epInf = f.Core().V1().Endpoints().Informer()
	d.sliceInf = f.Discovery().V1().EndpointSlices().Informer()
	_, _ = d.epInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(interface{}) { d.onEndpoints() },
		UpdateFunc: func(interface{}, interface{}) { d.onEndpoints() },
		DeleteFunc: func(interface{}) { d.onEndpoints() },
	})
	_, _ = d.sliceInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { d.onSlice(o, false) },
		UpdateFunc: func(_, o interface{}) { d.onSlice(o, false) },
		DeleteFunc: func(o interface{}) { d.onSlice(o, true) },
	})
	stop := make(chan struct{})
	f.Start(stop)
	f.WaitForCacheSync(stop)
	cpu0 := procCPU()
	fmt.Printf("# %s: %d Services x %d pods, %d nodes, %d writers\n", *label, *nServices, *podsPer, *nNodes, *workers)

	d.phase("create", func() {
		parallel(*nServices, func(s int) {
			_, err := client.CoreV1().Services(*namespace).Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: svcName(s)},
				Spec: corev1.ServiceSpec{Selector: map[string]string{"svc": svcName(s)},
					Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
			}, metav1.CreateOptions{})
			must(err, "create service")
		})
		parallel(*nServices**podsPer, func(i int) {
			s, p := i / *podsPer, i%*podsPer
			_, err := client.CoreV1().Pods(*namespace).Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: podName(s, p), Labels: map[string]string{"svc": svcName(s)}},
				Spec: corev1.PodSpec{NodeName: nodeName(i % *nNodes), Containers: []corev1.Container{{Name: "c",
					Image: "registry.invalid/app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
			}, metav1.CreateOptions{})
			must(err, "create pod")
			d.setStatus(s, p, true)
		})
	})
	d.phase("flip", func() {
		parallel(*nServices**podsPer, func(i int) { d.setStatus(i / *podsPer, i%*podsPer, false) })
	})
	d.phase("delete", func() {
		half := *podsPer / 2
		parallel(*nServices*half, func(i int) {
			s, p := i/half, i%half
			d.expect(s, p, false, false)
			zero := int64(0)
			err := client.CoreV1().Pods(*namespace).Delete(ctx, podName(s, p), metav1.DeleteOptions{GracePeriodSeconds: &zero})
			must(err, "delete pod")
		})
	})

	e0, s0 := d.apiWrites()
	c0 := procCPU()
	time.Sleep(*idle)
	e1, s1 := d.apiWrites()
	c1 := procCPU()
	out("idle_writes", (e1-e0)+(s1-s0), "requests")
	out("idle_seconds", idle.Seconds(), "s")
	if *pid != 0 {
		out("idle_cpu", c1-c0, "s")
		out("cpu_total", c1-cpu0, "s")
		out("peak_rss", procKB("status", "VmHWM")/1024, "MiB")
		rss := procKB("smaps_rollup", "Rss")
		shared := procKB("smaps_rollup", "Shared_Clean") + procKB("smaps_rollup", "Shared_Dirty")
		out("private_memory", (rss-shared)/1024, "MiB")
	}
	ea, sa := d.apiWrites()
	out("writes_endpoints_total", ea, "requests")
	out("writes_endpointslices_total", sa, "requests")
	close(stop)
}
